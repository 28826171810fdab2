/** Who is calling. Travels with queued jobs so a check made at enqueue holds at run time too. */
export interface Principal {
  /** key id, JWT subject, or a fixed name for system callers */
  id: string;
  role: Role;
  /** for `device` keys: the only functions it may invoke */
  functions?: string[];
  /** how the caller proved who it is */
  via: "key" | "jwt" | "system" | "anonymous";
}

export const ROLES = ["admin", "operator", "developer", "auditor", "device", "node"] as const;
export type Role = (typeof ROLES)[number];

/** The node itself: triggers, the CLI on the node's own data dir, recovery tasks. */
export const SYSTEM_PRINCIPAL: Principal = Object.freeze({ id: "system", role: "admin", via: "system" });
