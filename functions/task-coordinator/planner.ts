import { AppError, type FieldError } from "../../runtime/errors.ts";
import type { FunctionContext } from "../../runtime/function.ts";
import type { ChatMessage, ChatResult } from "../../runtime/llm/types.ts";
import type { ToolRules } from "./catalogue.ts";
import { planFormat, plannerMessages, reaskMessage } from "./plan-format.ts";
import type { Plan, TaskCoordinatorInput } from "./schema.ts";
import { validatePlan } from "./validate.ts";

export interface MadePlan {
  plan: Plan;
  /** 1, or 2 when the first plan was rejected and the model asked again */
  attempts: number;
  model: string;
}

/**
 * Asks the model for a plan and validates it; an invalid plan is sent back ONCE with its
 * errors, and a second invalid plan is refused with 422 PLAN_INVALID listing them.
 */
export async function makePlan(
  ctx: FunctionContext,
  input: TaskCoordinatorInput,
  rules: ToolRules,
): Promise<MadePlan> {
  if (rules.tools.length === 0) {
    throw new AppError(
      422,
      "PLAN_INVALID",
      "There is no function a plan could use: none that you may invoke" +
        (rules.only ? " is among the functions you listed." : " (other than the coordinator itself)."),
    );
  }
  const format = planFormat(rules.tools, input.maxSteps);
  const messages = plannerMessages(input.goal, rules.tools, input.maxSteps);
  await ctx.progress({ phase: "planning", attempt: 1 });
  const first = await ask(ctx, messages, format, input.model);
  const firstErrors = validatePlan(first.json, rules, input.maxSteps);
  if (firstErrors.length === 0) return { plan: first.json as Plan, attempts: 1, model: first.model };

  ctx.log.info("plan rejected, asking again", { errors: firstErrors.length });
  await ctx.progress({ phase: "planning", attempt: 2, rejected: firstErrors.slice(0, 10) });
  const again: ChatMessage[] = [
    ...messages,
    { role: "assistant", content: first.content },
    { role: "user", content: reaskMessage(firstErrors) },
  ];
  const second = await ask(ctx, again, format, input.model);
  const secondErrors = validatePlan(second.json, rules, input.maxSteps);
  if (secondErrors.length === 0) return { plan: second.json as Plan, attempts: 2, model: second.model };
  throw planInvalid("The model proposed an invalid plan twice; nothing was run.", secondErrors);
}

/**
 * One planning call. The LLM layer already re-asks once when the answer does not fit the
 * plan format (an unknown function, too many steps); if it still does not, that is an
 * invalid plan to the caller (422), not a gateway error.
 */
async function ask(
  ctx: FunctionContext,
  messages: ChatMessage[],
  format: Record<string, unknown>,
  model?: string,
): Promise<ChatResult> {
  try {
    return await ctx.llm.chat(messages, {
      format,
      model,
      signal: ctx.signal,
      temperature: 0,
      maxTokens: 2048,
    });
  } catch (err) {
    if (err instanceof AppError && err.code === "LLM_OUTPUT_INVALID") {
      throw planInvalid(
        `The model's plan did not fit the plan format, even when asked again: ${err.message}`,
        err.errors ?? [],
      );
    }
    throw err;
  }
}

function planInvalid(message: string, errors: readonly FieldError[]): AppError {
  return new AppError(422, "PLAN_INVALID", message, { errors: errors.slice(0, 100) });
}
