import type { Role } from "../../runtime/auth/principal.ts";
import type { AnyFunction } from "../../runtime/function.ts";
import { createOllamaLLM } from "../../runtime/llm/ollama.ts";
import { type FakeOllama, startFakeOllama } from "./fake-ollama.ts";
import { jsonPost, startTestNode, type TestNode } from "./test-node.ts";

/** The default model of agent tests, and a small-context one for the "too large" paths. */
export const MODEL = "llama3.2:1b";
export const TINY_MODEL = "tiny:1b";
export const TINY_CONTEXT = 512;

/**
 * An invoke answer or a problem, read field by field in assertions (a wrong path fails the
 * assertion, so precise types would add nothing but casts).
 */
export type Answer = Record<string, any>;

export interface AgentsHarness {
  fake: FakeOllama;
  node: TestNode;
  /** POST /v1/functions/<fn>/invoke as admin, or with `secret` */
  invoke(fn: string, input: unknown, secret?: string): Promise<{ status: number; body: Answer }>;
  /** an API key of that role (and grant list), minted in the node's key store */
  key(role: Role, functions?: string[]): Promise<string>;
  /** the /api/chat bodies the fake Ollama received, oldest first */
  chats(): Array<{ model: string; messages: Array<{ role: string; content: string }>; format?: unknown }>;
  dispose(): Promise<void>;
}

/**
 * An in-process node whose LLM is the ollama provider talking to the protocol-faithful fake
 * Ollama (tests/support/fake-ollama.ts), so agent tests script the model's answers with
 * `fake.script(MODEL, {content})` and see exactly what the agent asked.
 */
export async function startAgentsHarness(extraFunctions: AnyFunction[] = []): Promise<AgentsHarness> {
  const fake = await startFakeOllama({
    models: [
      { name: MODEL, size: 1_300_000_000 },
      { name: TINY_MODEL, contextLength: TINY_CONTEXT, size: 400_000_000 },
    ],
  });
  const node = await startTestNode({
    llm: createOllamaLLM({ host: fake.url, model: MODEL }),
    extraFunctions,
  });
  return {
    fake,
    node,
    async invoke(fn, input, secret) {
      const headers: Record<string, string> = secret ? { authorization: `Bearer ${secret}` } : {};
      const res = await node.request(`/v1/functions/${fn}/invoke`, jsonPost(input, headers));
      return { status: res.status, body: (await res.json()) as Answer };
    },
    async key(role, functions) {
      const key = await node.platform.security.keys.create({
        name: `agents-test ${role}`,
        role,
        functions: functions ?? null,
        createdBy: "agents-test",
      });
      return key.secret;
    },
    chats: () =>
      fake.requests
        .filter((r) => r.path === "/api/chat")
        .map((r) => r.body as ReturnType<AgentsHarness["chats"]>[number]),
    async dispose() {
      await node.dispose();
      await fake.close();
    },
  };
}
