import type { AnyFunction } from "../runtime/function.ts";
import { codeAssistant } from "./code-assistant/index.ts";
import { echo } from "./echo/index.ts";
import { knowledge } from "./knowledge/index.ts";
import { resourceOptimizer } from "./resource-optimizer/index.ts";
import { taskCoordinator } from "./task-coordinator/index.ts";
import { telemetry } from "./telemetry/index.ts";

/** The catalogue of built-in functions every node serves. */
export const builtinFunctions: AnyFunction[] = [
  echo as AnyFunction,
  telemetry as AnyFunction,
  codeAssistant as AnyFunction,
  taskCoordinator as AnyFunction,
  resourceOptimizer as AnyFunction,
  knowledge as AnyFunction,
];
