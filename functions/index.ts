import type { AnyFunction } from "../runtime/function.ts";
import { echo } from "./echo/index.ts";
import { telemetry } from "./telemetry/index.ts";

/** The catalogue of built-in functions every node serves. */
export const builtinFunctions: AnyFunction[] = [echo as AnyFunction, telemetry as AnyFunction];
