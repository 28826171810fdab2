import type { Principal } from "../auth/principal.ts";
import { hasPermission } from "../auth/rbac.ts";
import { AppError } from "../errors.ts";
import type { WaitOptions, WorkflowEngine, WorkflowsClient, WorkflowView } from "./types.ts";

/**
 * `ctx.workflows` for one invocation: starts workflows as the function's caller (so each
 * step is checked against the caller's rights, exactly like ctx.invoke), and reads only
 * the caller's own workflows unless the caller may read all invocations. `engine` is a
 * getter because the invoker exists before the engine that needs it.
 */
export function workflowsClient(
  engine: () => WorkflowEngine | undefined,
  principal: Principal,
  signal?: AbortSignal,
): WorkflowsClient {
  const need = (): WorkflowEngine => {
    const e = engine();
    if (!e) throw new AppError(503, "WORKFLOWS_UNAVAILABLE", "This node runs no workflow engine.");
    return e;
  };
  const mine = (view: WorkflowView): WorkflowView => {
    if (view.principal !== principal.id && !hasPermission(principal, "invocations:read")) {
      // 404, not 403: another caller's workflow ids are not confirmed to exist.
      throw new AppError(404, "WORKFLOW_NOT_FOUND", `No workflow with id "${view.id}".`);
    }
    return view;
  };
  return {
    start: (spec) => need().start(spec, principal),
    get: async (id) => mine(await need().get(id)),
    wait: async (id: string, opts: WaitOptions = {}) => {
      mine(await need().get(id)); // refuse before waiting, not after
      return need().wait(id, { ...opts, signal: opts.signal ?? signal });
    },
  };
}
