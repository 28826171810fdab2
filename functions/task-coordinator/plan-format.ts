import type { FieldError } from "../../runtime/errors.ts";
import type { ChatMessage } from "../../runtime/llm/types.ts";
import type { PlannerTool } from "./catalogue.ts";

/** Step ids the model picks from: `s1`..`sN`. Labels only, but always valid for the engine. */
export const stepIds = (maxSteps: number) => Array.from({ length: maxSteps }, (_, i) => `s${i + 1}`);

/**
 * The plan's JSON schema, given to the model as `format`. Function names and step ids are
 * enums and the step count is capped, so a model under constrained decoding (Ollama's
 * `format`, the embedded provider's grammar) cannot even write an unknown or forbidden
 * function or an id the workflow engine would reject. Inputs stay free-form objects here;
 * validatePlan checks them against each function's own schema afterwards.
 */
export function planFormat(tools: readonly PlannerTool[], maxSteps: number): Record<string, unknown> {
  const ids = stepIds(maxSteps);
  return {
    type: "object",
    properties: {
      steps: {
        type: "array",
        minItems: 1,
        maxItems: maxSteps,
        items: {
          type: "object",
          properties: {
            id: { enum: ids },
            function: { enum: tools.map((t) => t.name) },
            input: { type: "object", additionalProperties: true },
            dependsOn: { type: "array", maxItems: Math.max(0, maxSteps - 1), items: { enum: ids } },
          },
          required: ["id", "function", "input", "dependsOn"],
          additionalProperties: false,
        },
      },
    },
    required: ["steps"],
    additionalProperties: false,
  };
}

export function plannerMessages(
  goal: string,
  tools: readonly PlannerTool[],
  maxSteps: number,
): ChatMessage[] {
  const catalogue = tools.map((t) => ({ name: t.name, description: t.description, input: t.inputSchema }));
  const system = [
    "You plan work for an automation runtime. Break the user's goal into steps; each step calls one of the",
    "functions below with an input that matches that function's input JSON schema.",
    'Answer only with JSON: {"steps": [{"id": "s1", "function": "<name>", "input": {...}, "dependsOn": []}]}.',
    `Rules: at most ${maxSteps} steps, with ids s1, s2, ... in order. A step starts after every step in its`,
    "dependsOn has succeeded; steps without dependencies run in parallel. To pass an earlier step's output into",
    'an input, write {"$ref": "steps.<id>.output.<path>"} where the value belongs and list that step in dependsOn.',
    "Use only these functions:",
    JSON.stringify(catalogue),
  ].join("\n");
  return [
    { role: "system", content: system },
    { role: "user", content: `Goal: ${goal}` },
  ];
}

/** What the model is told when its plan was rejected: every problem, by path. */
export function reaskMessage(errors: readonly FieldError[]): string {
  const list = errors.slice(0, 30).map((e) => `- ${e.path}: ${e.message}`);
  return `That plan cannot run:\n${list.join("\n")}\nAnswer with a corrected plan as JSON only.`;
}
