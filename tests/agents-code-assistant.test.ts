import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunkLines, keepInRange, mergeFindings } from "../functions/code-assistant/lines.ts";
import { type AgentsHarness, MODEL, startAgentsHarness, TINY_MODEL } from "./support/agents-node.ts";
import { jsonPost } from "./support/test-node.ts";

/**
 * code-assistant with scripted answers through the fake Ollama server: what the model is
 * asked, how its findings are checked, thread history, and what happens to inputs larger
 * than the model's context.
 */
let h: AgentsHarness;
beforeAll(async () => {
  h = await startAgentsHarness();
});
afterAll(async () => {
  await h.dispose();
});

const SNIPPET = ["function add(a, b) {", "  return a - b;", "}", "export { add };"].join("\n");
const finding = (line: number, message = `issue on ${line}`) => ({
  line,
  severity: "warning" as const,
  message,
  suggestion: "fix it",
});

describe("code-assistant: explain and generate", () => {
  it("explain answers with the model's text, records the invocation, and sends the whole snippet", async () => {
    h.fake.script(MODEL, { content: "It subtracts instead of adding." });
    const res = await h.invoke("code-assistant", {
      action: "explain",
      code: SNIPPET,
      language: "javascript",
    });
    expect(res.status).toBe(200);
    expect(res.body.output).toMatchObject({
      action: "explain",
      model: MODEL,
      text: "It subtracts instead of adding.",
    });
    expect(h.chats().at(-1)?.messages.at(-1)?.content).toContain("return a - b;");
    const row = (await (await h.node.request(`/v1/invocations/${res.body.id}`)).json()) as { status: string };
    expect(row.status).toBe("succeeded");
  });

  it("streams tokens as SSE when asked, and the tokens join to the recorded text", async () => {
    h.fake.script(MODEL, { content: "It adds two numbers, but subtracts." });
    const res = await h.node.request(
      "/v1/functions/code-assistant/invoke",
      jsonPost({ action: "explain", code: SNIPPET }, { accept: "text/event-stream" }),
    );
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const events = (await res.text()).split("\n\n").filter((b) => b.includes("data:"));
    const data = (type: string) =>
      events
        .filter((b) => b.startsWith(`event: ${type}`))
        .map((b) =>
          JSON.parse(
            b
              .split("\n")
              .find((l) => l.startsWith("data: "))!
              .slice(6),
          ),
        );
    const result = data("result")[0] as { output: { text: string } };
    expect(data("token").length).toBeGreaterThan(1);
    expect(data("token").join("")).toBe(result.output.text);
  });

  it("generate returns the answer and the code of its first fenced block", async () => {
    h.fake.script(MODEL, {
      content: "Here:\n```ts\nexport const sum = (a: number, b: number) => a + b;\n```\nDone.",
    });
    const res = await h.invoke("code-assistant", {
      action: "generate",
      instructions: "a sum function",
      language: "ts",
    });
    expect(res.body.output.code).toBe("export const sum = (a: number, b: number) => a + b;");
    expect(res.body.output.text).toContain("Done.");
  });

  it("refuses bad combinations with 422 before any model call", async () => {
    const before = h.chats().length;
    expect((await h.invoke("code-assistant", { action: "review" })).body.code).toBe("INPUT_INVALID");
    expect((await h.invoke("code-assistant", { action: "generate", code: "x" })).body.code).toBe(
      "INPUT_INVALID",
    );
    expect((await h.invoke("code-assistant", { action: "explain", code: "x", diff: "y" })).status).toBe(422);
    expect(h.chats().length).toBe(before);
  });
});

describe("code-assistant: review", () => {
  it("parses structured findings, keeps those on real lines and drops (and counts) impossible ones", async () => {
    const answer = { findings: [finding(2, "subtracts"), finding(99), finding(0), finding(4, "exports")] };
    h.fake.script(MODEL, { content: JSON.stringify(answer) });
    const res = await h.invoke("code-assistant", { action: "review", code: SNIPPET });
    expect(res.status).toBe(200);
    expect(res.body.output.findings).toEqual([finding(2, "subtracts"), finding(4, "exports")]);
    expect(res.body.output.lineCheck).toEqual({ policy: "drop", lines: 4, dropped: 2 });
    const asked = h.chats().at(-1)!;
    expect(asked.format).toMatchObject({ required: ["findings"] });
    expect(asked.messages.at(-1)?.content).toContain("2|   return a - b;");
  });

  it("an answer that is not findings is re-asked once by the LLM layer, then fails with 502", async () => {
    h.fake.script(MODEL, { content: "looks fine to me" }, { content: '{"findings": "none"}' });
    const res = await h.invoke("code-assistant", { action: "review", code: SNIPPET });
    expect(res.status).toBe(502);
    expect(res.body.code).toBe("LLM_OUTPUT_INVALID");
  });
});

describe("code-assistant: threads", () => {
  it("a second call with the same threadId sends the earlier turn; another caller's same id does not", async () => {
    h.fake.script(MODEL, { content: "First answer about add." }, { content: "Second answer." });
    await h.invoke("code-assistant", { action: "explain", code: SNIPPET, threadId: "thread-1" });
    const second = await h.invoke("code-assistant", {
      action: "explain",
      code: "const z = 1;",
      instructions: "compare with before",
      threadId: "thread-1",
    });
    expect(second.body.output.history).toEqual({ included: 2, omitted: 0 });
    const messages = h.chats().at(-1)!.messages;
    expect(messages.map((m) => m.role)).toEqual(["system", "user", "assistant", "user"]);
    expect(messages[1]!.content).toContain("return a - b;");
    expect(messages[2]!.content).toBe("First answer about add.");

    const other = await h.key("developer");
    h.fake.script(MODEL, { content: "Fresh." });
    const res = await h.invoke(
      "code-assistant",
      { action: "explain", code: "x", threadId: "thread-1" },
      other,
    );
    expect(res.body.output.history).toEqual({ included: 0, omitted: 0 });
    expect(
      h
        .chats()
        .at(-1)!
        .messages.map((m) => m.role),
    ).toEqual(["system", "user"]);
  });
});

describe("code-assistant: inputs larger than the context", () => {
  const lines = (n: number) =>
    Array.from({ length: n }, (_, i) => `const value${i} = compute(${i}, "padding text");`);
  const bigCode = lines(60).join("\n");

  it("explain refuses with 413 INPUT_TOO_LARGE naming the numbers, without calling the model", async () => {
    const before = h.chats().length;
    const res = await h.invoke("code-assistant", { action: "explain", code: bigCode, model: TINY_MODEL });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe("INPUT_TOO_LARGE");
    expect(res.body.detail).toMatch(/512 tokens of context/);
    expect(res.body.detail).toMatch(/Nothing was cut/);
    expect(h.chats().length).toBe(before);
  });

  it("review splits it into overlapping parts, maps findings to the input's lines and drops lines outside a part", async () => {
    // The model flags the first line each part shows, plus one line that part did not show.
    h.fake.respond(TINY_MODEL, ({ body }) => {
      const prompt = (body.messages as Array<{ content: string }>).at(-1)!.content;
      const first = Number(/^\s*(\d+)\| /m.exec(prompt)![1]);
      return { content: JSON.stringify({ findings: [finding(first, "part start"), finding(first + 500)] }) };
    });
    const before = h.chats().length;
    const res = await h.invoke("code-assistant", { action: "review", code: bigCode, model: TINY_MODEL });
    expect(res.status).toBe(200);
    const out = res.body.output;
    const calls = h.chats().slice(before);
    expect(out.chunks).toBe(calls.length);
    expect(out.chunks).toBeGreaterThan(1);
    for (const call of calls) expect(call.messages.at(-1)!.content.length).toBeLessThan(512 * 3);
    const starts = calls.map((c) => Number(/^\s*(\d+)\| /m.exec(c.messages.at(-1)!.content)![1]));
    expect(out.findings.map((f: { line: number }) => f.line)).toEqual(starts);
    expect(starts[0]).toBe(1);
    expect(out.lineCheck).toEqual({ policy: "drop", lines: 60, dropped: calls.length });
    // every line was shown to some part: together the parts cover 1..60
    const shown = new Set<number>();
    for (const c of calls)
      for (const m of c.messages.at(-1)!.content.matchAll(/^\s*(\d+)\| /gm)) shown.add(Number(m[1]));
    expect(shown.size).toBe(60);
  });

  it("review refuses with 413 what would take more model calls than its cap, before calling the model", async () => {
    const before = h.chats().length;
    const res = await h.invoke("code-assistant", {
      action: "review",
      code: lines(400).join("\n"),
      model: TINY_MODEL,
    });
    expect(res.status).toBe(413);
    expect(res.body.detail).toMatch(/would take \d+ model calls \(at most 24\)/);
    expect(h.chats().length).toBe(before);
  });
});

describe("code-assistant line arithmetic (pure)", () => {
  it("chunkLines covers every line, overlaps consecutive parts and reports a line that cannot fit", () => {
    const split = chunkLines(Array(30).fill(10), 100, 3);
    expect(split).toEqual({
      ranges: [
        { first: 1, last: 10 },
        { first: 8, last: 17 },
        { first: 15, last: 24 },
        { first: 22, last: 30 },
      ],
    });
    expect(chunkLines([10, 500, 10], 100, 2)).toEqual({ lineTooLong: 2 });
  });

  it("keepInRange drops what is outside; mergeFindings dedupes overlap repeats and sorts", () => {
    expect(keepInRange([finding(1), finding(5), finding(-1)], { first: 1, last: 4 })).toEqual({
      kept: [finding(1)],
      dropped: 2,
    });
    const merged = mergeFindings([
      { range: { first: 1, last: 10 }, findings: [finding(9, "x"), finding(3)] },
      { range: { first: 8, last: 20 }, findings: [finding(9, "x"), finding(2)] },
    ]);
    expect(merged).toEqual({ findings: [finding(3), finding(9, "x")], dropped: 1 });
  });
});
