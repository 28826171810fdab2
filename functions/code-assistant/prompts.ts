import type { CodeAssistantInput } from "./schema.ts";

/**
 * What the model is told. Line numbers are written into review prompts as `N| ` prefixes
 * (the numbers of the original input, also inside a chunk) so a finding's line can be
 * checked against the lines actually shown instead of trusting the model's counting.
 */
export function systemPrompt(input: CodeAssistantInput): string {
  const lang = input.language ? `${input.language} ` : "";
  switch (input.action) {
    case "explain":
      return `You are a senior engineer. Explain what the given ${lang}code does, how, and anything surprising in it. Be concise and concrete.`;
    case "review":
      return (
        `You are a careful ${lang}code reviewer. Report bugs, security problems and maintainability issues. ` +
        "Each line of the input starts with its line number and '| '. Every finding names the line it is about " +
        "(one of the numbers shown), a severity (info, warning or error), a message and a suggested fix. " +
        'Answer only with JSON of the form {"findings": [...]}; an empty list when there is nothing to report.'
      );
    case "generate":
      return `You write ${lang}code. Answer with the code in one fenced code block, then at most three sentences about it.`;
  }
}

const what = (input: CodeAssistantInput) => (input.diff !== undefined ? "diff" : "code");

/** The user message for explain and generate (the whole input; never cut). */
export function userPrompt(input: CodeAssistantInput): string {
  const body = input.diff ?? input.code;
  const parts: string[] = [];
  if (input.action === "generate") parts.push(input.instructions ?? "");
  else if (input.instructions) parts.push(`Focus: ${input.instructions}`);
  if (body !== undefined) {
    const label = input.action === "generate" ? "Existing code to start from" : `The ${what(input)}`;
    parts.push(`${label}:\n\`\`\`${input.language ?? ""}\n${body}\n\`\`\``);
  }
  return parts.join("\n\n");
}

/**
 * The user message of a review: lines `first..first+lines.length-1` with their numbers.
 * `of` says which part of how many when the input was split.
 */
export function reviewPrompt(
  input: CodeAssistantInput,
  lines: string[],
  first: number,
  of?: { part: number; parts: number; total: number },
): string {
  const last = first + lines.length - 1;
  const width = String(last).length;
  const numbered = lines.map((l, i) => `${String(first + i).padStart(width)}| ${l}`).join("\n");
  const header = of
    ? `Review lines ${first}-${last} (part ${of.part} of ${of.parts}) of a ${of.total}-line ${what(input)}; other parts are reviewed separately.`
    : `Review this ${lines.length}-line ${what(input)}.`;
  const focus = input.instructions ? `\nFocus: ${input.instructions}` : "";
  return `${header} Use only line numbers ${first}-${last}.${focus}\n\n${numbered}`;
}

/** The code of the first fenced block, or the whole answer when there is none. */
export function extractCode(answer: string): string {
  const block = /```[^\n`]*\n([\s\S]*?)```/.exec(answer);
  return (block?.[1] ?? answer).replace(/\n$/, "");
}

/** Splits into lines the way the line numbers are counted (a final newline adds no line). */
export function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines.at(-1) === "") lines.pop();
  return lines;
}
