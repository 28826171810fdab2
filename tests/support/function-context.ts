import { SYSTEM_PRINCIPAL } from "../../runtime/auth/principal.ts";
import type { Db } from "../../runtime/db.ts";
import type { FunctionContext } from "../../runtime/function.ts";
import { uuidv7 } from "../../runtime/ids.ts";
import { unconfiguredLLM } from "../../runtime/llm/unconfigured.ts";
import { silentLogger } from "../../runtime/log.ts";
import { createStateStore } from "../../runtime/state.ts";

/**
 * A FunctionContext for calling a handler directly, without a node: the real db and state
 * store, no LLM, the system principal, and an `invoke` that refuses (a unit test that needs
 * multi-agent calls passes its own through `overrides`).
 */
export function makeContext(db: Db, overrides: Partial<FunctionContext> = {}): FunctionContext {
  return {
    invocationId: uuidv7(),
    db,
    state: createStateStore(db),
    llm: unconfiguredLLM(),
    principal: SYSTEM_PRINCIPAL,
    node: { id: "test-node", role: "edge", online: true },
    log: silentLogger,
    signal: new AbortController().signal,
    invoke: async (name) => {
      throw new Error(`makeContext: ctx.invoke("${name}") is not available in this test; pass an override`);
    },
    progress: async () => {},
    ...overrides,
  };
}
