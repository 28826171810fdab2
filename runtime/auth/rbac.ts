import type { Principal, Role } from "./principal.ts";

/**
 * The one table that says what each role may do. Endpoints and functions name a
 * permission; nothing else in the code compares role names.
 */
export const PERMISSIONS = {
  "functions:list": ["admin", "operator", "developer", "auditor", "device"],
  "functions:invoke": ["admin", "operator", "developer", "device"],
  "invocations:read": ["admin", "operator", "developer", "auditor"],
  "invocations:manage": ["admin", "operator"],
  "state:read": ["admin", "operator", "developer", "device"],
  "state:write": ["admin", "operator", "developer", "device"],
  "workflows:run": ["admin", "operator", "developer"],
  "models:read": ["admin", "operator", "developer"],
  "models:manage": ["admin"],
  "keys:manage": ["admin"],
  "audit:read": ["admin", "auditor"],
  "metrics:read": ["admin", "operator", "auditor"],
  "sync:read": ["admin", "operator", "auditor"],
  "sync:manage": ["admin", "operator"],
  "sync:replicate": ["node"],
  "nodes:read": ["admin", "operator", "auditor"],
  // knowledge base (functions/knowledge): devices may search and ask once granted the function
  "knowledge:read": ["admin", "operator", "developer", "device"],
  "knowledge:write": ["admin", "operator", "developer"],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof PERMISSIONS;

export function hasPermission(principal: Principal, permission: string): boolean {
  const roles = (PERMISSIONS as Record<string, readonly Role[]>)[permission];
  return roles?.includes(principal.role) ?? false;
}

/** May this principal invoke that function? Devices additionally need an explicit grant. */
export function canInvoke(principal: Principal, fn: { name: string; permission?: string }): boolean {
  if (!hasPermission(principal, fn.permission ?? "functions:invoke")) return false;
  if (principal.role === "device") return principal.functions?.includes(fn.name) ?? false;
  if (principal.functions && principal.functions.length > 0) return principal.functions.includes(fn.name);
  return true;
}
