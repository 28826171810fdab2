/** Graph questions about a workflow's steps; `deps` maps a step id to the ids it depends on. */
export type Deps = ReadonlyMap<string, readonly string[]>;

/**
 * One dependency cycle, as the step ids along it with the first repeated at the end
 * (`["a", "b", "a"]`), or undefined when the graph is a DAG. Dependencies on unknown
 * steps are ignored here (validation reports them separately).
 */
export function findCycle(deps: Deps): string[] | undefined {
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  // Iterative DFS: a 100-step chain must not depend on the call stack's depth either way.
  for (const root of deps.keys()) {
    if (state.has(root)) continue;
    const stack: Array<{ id: string; next: number }> = [{ id: root, next: 0 }];
    state.set(root, "visiting");
    path.push(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const children = deps.get(top.id) ?? [];
      if (top.next < children.length) {
        const child = children[top.next++]!;
        if (!deps.has(child)) continue;
        const seen = state.get(child);
        if (seen === "visiting") return [...path.slice(path.indexOf(child)), child];
        if (seen === "done") continue;
        state.set(child, "visiting");
        path.push(child);
        stack.push({ id: child, next: 0 });
      } else {
        state.set(top.id, "done");
        path.pop();
        stack.pop();
      }
    }
  }
  return undefined;
}

/** Every step `id` depends on, directly or indirectly (cycle-safe). */
export function ancestors(id: string, deps: Deps): Set<string> {
  const seen = new Set<string>();
  const todo = [...(deps.get(id) ?? [])];
  while (todo.length > 0) {
    const next = todo.pop()!;
    if (seen.has(next) || !deps.has(next)) continue;
    seen.add(next);
    todo.push(...(deps.get(next) ?? []));
  }
  return seen;
}
