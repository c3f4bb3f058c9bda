// Syntax error messages in the language's own words ("expected ')' but
// found '}'"), and a hint for the common ones.
import { IToken, TokenType, IParserErrorMessageProvider, EOF } from 'chevrotain';

const LABELS: Record<string, string> = {
  Ident: 'a name', Int: 'an integer', Float: 'a number', StringLit: 'a string', TypeName: 'a type',
  Arrow: "'->'", DotDot: "'..'", Dot: "'.'", EqEq: "'=='", NotEq: "'!='", LessEq: "'<='", GreaterEq: "'>='",
  Less: "'<'", Greater: "'>'", Eq: "'='", Plus: "'+'", Minus: "'-'", Star: "'*'", Slash: "'/'", Percent: "'%'",
  LParen: "'('", RParen: "')'", LBracket: "'['", RBracket: "']'", LBrace: "'{'", RBrace: "'}'", Comma: "','",
  Colon: "':'", Semicolon: "';'", EOF: 'the end of the file',
};
const labelOf = (t: TokenType): string => LABELS[t.name] ?? `'${t.name.toLowerCase()}'`;
const showTok = (t: IToken | undefined): string => (!t || t.tokenType === EOF ? 'the end of the file' : `'${t.image}'`);
const RULES: Record<string, string> = {
  topItem: 'a declaration (module, fn or import)', moduleItem: 'a module item (param, field, fn or if)', stmt: 'a statement (let, return or if)',
  primary: 'an expression', typeExpr: 'a type', ctorParam: 'a constructor parameter', pattern: 'a name or a tuple of names',
  constraint: 'a where-constraint', postfixExpr: "a name or an index after '.'", listExpr: 'a list', arg: 'an argument',
};

export const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, actual }) => `expected ${labelOf(expected)} but found ${showTok(actual)}`,
  buildNotAllInputParsedMessage: ({ firstRedundant }) => `unexpected ${showTok(firstRedundant)}: expected a declaration (module, fn or import)`,
  buildNoViableAltMessage: ({ actual, ruleName }) => `unexpected ${showTok(actual[0])}: expected ${RULES[ruleName] ?? ruleName}`,
  buildEarlyExitMessage: ({ actual, ruleName }) => `unexpected ${showTok(actual[0])}: expected ${RULES[ruleName] ?? ruleName}`,
};

export function hintFor(message: string): string | undefined {
  if (message.includes("found 'the end of the file'") || message.includes('found the end of the file')) return 'the file ends inside a declaration: is a closing brace or parenthesis missing?';
  if (message.includes("expected ')'")) return 'check the parentheses and the commas between arguments';
  if (message.includes("expected '}'")) return 'check the braces: every { needs its }';
  if (message.includes('expected a declaration')) return 'a file holds imports, modules and functions only';
  return undefined;
}
