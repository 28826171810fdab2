import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DONT_KNOW } from "../functions/knowledge/index.ts";
import type { ChatMessage, LLM } from "../runtime/llm/types.ts";
import { unconfiguredLLM } from "../runtime/llm/unconfigured.ts";
import { CORPUS, type KnowledgeDb, knowledgeDb } from "./support/knowledge-db.ts";
import { withBagOfWords } from "./support/knowledge-llm.ts";

/** A chat model that answers from the source whose text mentions "red button", citing it by number. */
const prompts: ChatMessage[][] = [];
const chatty: LLM = {
  ...unconfiguredLLM(),
  chat: async (messages, opts) => {
    prompts.push(messages);
    const system = messages[0]!.content;
    const block = system.split(/\n\n(?=\[\d+\] )/).find((b) => b.includes("red button"));
    const n = /^\[(\d+)\]/.exec(block ?? "")?.[1] ?? "9";
    const answer = `Hold the red button for five seconds [${n}]. Also see [42].`;
    for (const piece of answer.split(/(?<= )/)) opts?.onToken?.(piece);
    return { content: answer, model: "fake-chat" };
  },
};

let kb: KnowledgeDb;
beforeAll(async () => {
  kb = await knowledgeDb(withBagOfWords(chatty, { bow: 256 }));
  await kb.run({
    action: "createCollection",
    name: "manuals",
    embeddingModel: "bow",
    chunkTokens: 40,
    overlapTokens: 8,
  });
  for (const doc of CORPUS) await kb.run({ action: "ingest", collection: "manuals", ...doc });
});
afterAll(() => kb.dispose());

describe("knowledge ask", () => {
  it("answers from numbered sources; citations map back to the right chunk; streams tokens", async () => {
    const tokens: string[] = [];
    const ctx = {
      ...kb.ctx,
      llm: withBagOfWords(
        {
          ...chatty,
          provider: chatty.provider,
          chat: (m, o) => chatty.chat(m, { ...o, onToken: (t) => tokens.push(t) }),
        },
        { bow: 256 },
      ),
    };
    const out = await kb.run(
      { action: "ask", collection: "manuals", question: "How do I reset pump X with the button?" },
      ctx,
    );
    expect(out.grounded).toBe(true);
    expect(tokens.join("")).toBe(out.answer);
    // [42] is not a source: dropped; the real citation points at the Reset chunk of pump-x.md
    expect(out.citations).toHaveLength(1);
    const [cited] = out.citations;
    expect(cited).toMatchObject({ documentKey: "pump-x.md", headingPath: ["Pump X manual", "Reset"] });
    expect(cited.text).toContain("red button");
    expect(out.answer).toContain(`[${cited.n}]`);
    expect(out.sources[cited.n - 1].chunkId).toBe(cited.chunkId);
    const system = prompts.at(-1)![0]!.content;
    expect(system).toContain(`[${cited.n}] pump-x.md › Pump X manual › Reset`);
  });

  it("says it does not know, without asking the model, when nothing relevant is found", async () => {
    const before = prompts.length;
    const out = await kb.run({
      action: "ask",
      collection: "manuals",
      question: "Which quarterback won the championship game?",
    });
    expect(out).toMatchObject({ answer: DONT_KNOW, grounded: false, citations: [], sources: [] });
    expect(prompts.length).toBe(before);
  });

  it("the threshold is tunable: minSimilarity 1 leaves no source", async () => {
    const out = await kb.run({
      action: "ask",
      collection: "manuals",
      question: "reset pump red button",
      minSimilarity: 1,
    });
    expect(out.answer).toBe(DONT_KNOW);
  });
});
