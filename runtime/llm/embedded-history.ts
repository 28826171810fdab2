import type * as NodeLlamaCpp from "node-llama-cpp";
import type { ChatMessage, ToolDefinition } from "./types.ts";

/**
 * Our messages → node-llama-cpp's chat history. The model's chat wrapper (from the GGUF's
 * template) renders it. Tool calls live inside the model's turn together with their results,
 * so a `tool` message is folded into the function call of the assistant turn before it.
 */
export function toChatHistory(messages: ChatMessage[]): NodeLlamaCpp.ChatHistoryItem[] {
  const history: NodeLlamaCpp.ChatHistoryItem[] = [];
  let openCalls: NodeLlamaCpp.ChatModelFunctionCall[] = [];
  for (const m of messages) {
    if (m.role === "system") history.push({ type: "system", text: m.content });
    else if (m.role === "user") history.push({ type: "user", text: m.content });
    else if (m.role === "assistant") {
      openCalls = (m.toolCalls ?? []).map((c) => ({
        type: "functionCall",
        name: c.name,
        params: c.arguments,
        result: null,
      }));
      history.push({ type: "model", response: [...(m.content ? [m.content] : []), ...openCalls] });
    } else {
      const call = openCalls.find((c) => c.result === null && (!m.toolName || c.name === m.toolName));
      if (call) call.result = parseMaybeJson(m.content);
      // A tool result with no call to attach to is still information the model needs.
      else history.push({ type: "user", text: `Result of tool ${m.toolName ?? "(unnamed)"}: ${m.content}` });
    }
  }
  return history;
}

export function toFunctions(
  tools: ToolDefinition[] | undefined,
): NodeLlamaCpp.ChatModelFunctions | undefined {
  if (!tools?.length) return undefined;
  return Object.fromEntries(
    tools.map((t) => [
      t.name,
      { description: t.description, params: t.parameters as NodeLlamaCpp.GbnfJsonSchema | undefined },
    ]),
  );
}

function parseMaybeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** node-llama-cpp's stop reasons in Ollama's words, so callers see one vocabulary. */
export function doneReason(stopReason: string): string {
  if (stopReason === "maxTokens") return "length";
  if (stopReason === "functionCalls") return "tool_calls";
  if (stopReason === "abort") return "abort";
  return "stop";
}
