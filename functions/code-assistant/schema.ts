import { z } from "zod";

/** Characters one request may carry. Larger inputs are refused by the schema (422); below
 * this, the token budget decides (review chunks, explain/generate refuse with 413). */
export const MAX_INPUT_CHARS = 1_000_000;

export const ACTIONS = ["explain", "review", "generate"] as const;
export const SEVERITIES = ["info", "warning", "error"] as const;

const threadId = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,128}$/, "must be 1-128 characters of letters, digits and . _ : -")
  .describe("continue a conversation: earlier turns with this id (yours only) are sent to the model");

export const codeAssistantInput = z
  .strictObject({
    action: z.enum(ACTIONS),
    code: z.string().min(1).max(MAX_INPUT_CHARS).optional().describe("a snippet or a whole file"),
    diff: z.string().min(1).max(MAX_INPUT_CHARS).optional().describe("a unified diff, instead of code"),
    language: z.string().min(1).max(40).optional().describe("e.g. typescript; helps the model"),
    instructions: z
      .string()
      .min(1)
      .max(20_000)
      .optional()
      .describe("generate: what to write; explain/review: what to focus on"),
    threadId: threadId.optional(),
    model: z.string().min(1).max(200).optional().describe("model to use; default: the node's"),
  })
  .superRefine((input, ctx) => {
    if (input.code !== undefined && input.diff !== undefined) {
      ctx.addIssue({ code: "custom", path: ["diff"], message: "send either code or diff, not both" });
    }
    if (input.action !== "generate" && input.code === undefined && input.diff === undefined) {
      ctx.addIssue({ code: "custom", path: ["code"], message: `${input.action} needs code or diff` });
    }
    if (input.action === "generate" && input.instructions === undefined) {
      ctx.addIssue({ code: "custom", path: ["instructions"], message: "generate needs instructions" });
    }
  });

export type CodeAssistantInput = z.output<typeof codeAssistantInput>;

export const findingSchema = z.object({
  line: z.number().int().min(1),
  severity: z.enum(SEVERITIES),
  message: z.string(),
  suggestion: z.string(),
});
export type Finding = z.output<typeof findingSchema>;

export const codeAssistantOutput = z.object({
  action: z.enum(ACTIONS),
  model: z.string(),
  threadId: z.string().optional(),
  /** explain: the explanation; generate: the whole answer */
  text: z.string().optional(),
  /** generate: the code of the answer's first fenced block (the whole answer when it has none) */
  code: z.string().optional(),
  findings: z.array(findingSchema).optional(),
  /** review: what was done with findings whose line is not in the snippet */
  lineCheck: z
    .object({ policy: z.literal("drop"), lines: z.number().int(), dropped: z.number().int() })
    .optional(),
  /** review of an input larger than the model's context: how many overlapping parts were reviewed */
  chunks: z.number().int().optional(),
  /** earlier turns of the thread sent to the model, and those left out because they did not fit */
  history: z.object({ included: z.number().int(), omitted: z.number().int() }).optional(),
});
export type CodeAssistantOutput = z.input<typeof codeAssistantOutput>;
