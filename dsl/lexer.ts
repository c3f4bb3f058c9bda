// Tokens of the fusedet language. Keywords are declared with longer_alt so
// an identifier such as `format` is not split into `for` + `mat`.
import { createToken, Lexer, TokenType } from 'chevrotain';

export const Ident = createToken({ name: 'Ident', pattern: /[A-Za-z_][A-Za-z0-9_]*/ });

function keyword(word: string): TokenType {
  return createToken({ name: word[0].toUpperCase() + word.slice(1), pattern: new RegExp(word), longer_alt: Ident });
}

export const Import = keyword('import');
export const Module = keyword('module');
export const Fn = keyword('fn');
export const Param = keyword('param');
export const Frozen = keyword('frozen');
export const Let = keyword('let');
export const Return = keyword('return');
export const If = keyword('if');
export const Else = keyword('else');
export const For = keyword('for');
export const In = keyword('in');
export const Where = keyword('where');
export const True = keyword('true');
export const False = keyword('false');
export const And = keyword('and');
export const Or = keyword('or');
export const Not = keyword('not');
/** Type names: dtypes and the scalar types of constructor and function parameters. */
export const TypeName = createToken({ name: 'TypeName', pattern: /f32|f16|i32|bool|int|init|float|string/, longer_alt: Ident });

export const Float = createToken({ name: 'Float', pattern: /\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+/ });
export const Int = createToken({ name: 'Int', pattern: /\d+/ });
export const StringLit = createToken({ name: 'StringLit', pattern: /"[^"\n]*"/ });

export const Arrow = createToken({ name: 'Arrow', pattern: /->/ });
export const DotDot = createToken({ name: 'DotDot', pattern: /\.\./ });
export const Dot = createToken({ name: 'Dot', pattern: /\./ });
export const EqEq = createToken({ name: 'EqEq', pattern: /==/ });
export const NotEq = createToken({ name: 'NotEq', pattern: /!=/ });
export const LessEq = createToken({ name: 'LessEq', pattern: /<=/ });
export const GreaterEq = createToken({ name: 'GreaterEq', pattern: />=/ });
export const Less = createToken({ name: 'Less', pattern: /</ });
export const Greater = createToken({ name: 'Greater', pattern: />/ });
export const Eq = createToken({ name: 'Eq', pattern: /=/ });
export const Plus = createToken({ name: 'Plus', pattern: /\+/ });
export const Minus = createToken({ name: 'Minus', pattern: /-/ });
export const Star = createToken({ name: 'Star', pattern: /\*/ });
export const Slash = createToken({ name: 'Slash', pattern: /\// });
export const Percent = createToken({ name: 'Percent', pattern: /%/ });
export const LParen = createToken({ name: 'LParen', pattern: /\(/ });
export const RParen = createToken({ name: 'RParen', pattern: /\)/ });
export const LBracket = createToken({ name: 'LBracket', pattern: /\[/ });
export const RBracket = createToken({ name: 'RBracket', pattern: /\]/ });
export const LBrace = createToken({ name: 'LBrace', pattern: /\{/ });
export const RBrace = createToken({ name: 'RBrace', pattern: /\}/ });
export const Comma = createToken({ name: 'Comma', pattern: /,/ });
export const Colon = createToken({ name: 'Colon', pattern: /:/ });
export const Semicolon = createToken({ name: 'Semicolon', pattern: /;/ });

const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n]+/, group: Lexer.SKIPPED });
const Comment = createToken({ name: 'Comment', pattern: /\/\/[^\n]*/, group: Lexer.SKIPPED });

export const allTokens: TokenType[] = [
  WhiteSpace, Comment,
  // TypeName first: `int` must not lex as the keyword `in` followed by `t`.
  TypeName, Import, Module, Fn, Param, Frozen, Let, Return, If, Else, For, In, Where, True, False, And, Or, Not,
  Ident, Float, Int, StringLit,
  Arrow, DotDot, Dot, EqEq, NotEq, LessEq, GreaterEq, Less, Greater, Eq,
  Plus, Minus, Star, Slash, Percent, LParen, RParen, LBracket, RBracket, LBrace, RBrace, Comma, Colon, Semicolon,
];

export const lexer = new Lexer(allTokens, { positionTracking: 'full', ensureOptimizations: false });
