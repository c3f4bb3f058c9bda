// Lexical scopes: a chain of maps from names to values.
import type { Value } from './values.js';

export class Scope {
  private readonly vars = new Map<string, Value>();
  constructor(readonly parent: Scope | undefined) {}
  get(name: string): Value | undefined {
    for (let s: Scope | undefined = this; s; s = s.parent) {
      const v = s.vars.get(name);
      if (v !== undefined) return v;
    }
    return undefined;
  }
  own(name: string): Value | undefined { return this.vars.get(name); }
  set(name: string, v: Value): void { this.vars.set(name, v); }
  ownNames(): string[] { return [...this.vars.keys()]; }
}
