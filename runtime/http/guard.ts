import type { Context } from "hono";
import type { Permission } from "../auth/rbac.ts";
import { hasPermission } from "../auth/rbac.ts";
import { AppError } from "../errors.ts";
import type { AppEnv } from "../platform.ts";

/** Throws 403 unless the authenticated principal holds the permission. */
export function requirePermission(c: Context<AppEnv>, permission: Permission): void {
  const principal = c.get("principal");
  if (!hasPermission(principal, permission)) {
    throw new AppError(
      403,
      "FORBIDDEN",
      `Your credential (role ${principal.role}) lacks the "${permission}" permission.`,
    );
  }
}
