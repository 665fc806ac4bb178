/**
 * A hand-written tokenizer and recursive-descent parser for the JQL subset the sandbox serves.
 * Syntax errors are reported with Jira's wording and a 1-based character position.
 *
 *   query   := [or] [ORDER BY key (',' key)*] EOF
 *   or      := and (OR and)*
 *   and     := not (AND not)*
 *   not     := (NOT | '!') not | '(' or ')' | clause
 *   clause  := field operator operand
 *   operand := value | function | EMPTY | NULL | '(' operand (',' operand)* ')'
 */
import {
  JqlError,
  type JqlExpr,
  type JqlFieldRef,
  type JqlOperator,
  type JqlOrderKey,
  type JqlQuery,
  type JqlValue,
} from './types.js';

type TokenKind = 'word' | 'string' | 'op' | 'lparen' | 'rparen' | 'comma' | 'lbracket' | 'rbracket' | 'eof';

interface Token {
  kind: TokenKind;
  /** The value: unescaped text for strings, the raw text otherwise. */
  text: string;
  /** 1-based character position of the token's first character. */
  position: number;
}

const PREFIX = 'Error in the JQL Query:';
const OPERATORS_LIST =
  "'=', '!=', '~', '<=', '>=', '>', '<', '!~', 'is', 'is not', 'not in', 'in', 'was', 'was in', 'was not', 'was not in', 'changed'";
/** Characters Jira reserves: they must be quoted. */
const RESERVED = new Set(['{', '}', '*', '%', '+', '^', '$', '#', '@', ';', '?', '|', '&', '`', '\\']);
const WORD_CHAR = /[^\s"'()[\],=!<>~{}%^$#;?|&`\\]/u;
const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'empty', 'null', 'order', 'by', 'asc', 'desc']);

function at(position: number): string {
  return `(line 1, character ${position})`;
}

function syntaxError(message: string, position: number): JqlError {
  return new JqlError(`${PREFIX} ${message} ${at(position)}`, position);
}

function endError(message: string, position: number): JqlError {
  return new JqlError(`${PREFIX} ${message}`, position);
}

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = source.length;
  while (i < n) {
    const c = source[i] as string;
    const position = i + 1;
    if (/\s/u.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let text = '';
      let closed = false;
      while (j < n) {
        const d = source[j] as string;
        if (d === '\\') {
          const e = source[j + 1];
          if (e === undefined) break;
          if (e === 'u') {
            const hex = source.slice(j + 2, j + 6);
            if (!/^[0-9a-fA-F]{4}$/u.test(hex)) {
              throw syntaxError(`Illegal Unicode escape '\\u${hex}'.`, j + 1);
            }
            text += String.fromCharCode(parseInt(hex, 16));
            j += 6;
            continue;
          }
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', ' ': ' ' };
          if (e === '"' || e === "'" || e === '\\') text += e;
          else if (map[e] !== undefined) text += map[e];
          else throw syntaxError(`Illegal escape sequence '\\${e}' in the JQL query.`, j + 1);
          j += 2;
          continue;
        }
        if (d === c) {
          closed = true;
          break;
        }
        text += d;
        j++;
      }
      if (!closed) throw syntaxError(`The quoted string '${source.slice(i + 1)}' has not been completed.`, position);
      tokens.push({ kind: 'string', text, position });
      i = j + 1;
      continue;
    }
    if (c === '(') {
      tokens.push({ kind: 'lparen', text: c, position });
      i++;
      continue;
    }
    if (c === ')') {
      tokens.push({ kind: 'rparen', text: c, position });
      i++;
      continue;
    }
    if (c === ',') {
      tokens.push({ kind: 'comma', text: c, position });
      i++;
      continue;
    }
    if (c === '[') {
      tokens.push({ kind: 'lbracket', text: c, position });
      i++;
      continue;
    }
    if (c === ']') {
      tokens.push({ kind: 'rbracket', text: c, position });
      i++;
      continue;
    }
    const two = source.slice(i, i + 2);
    if (two === '!=' || two === '!~' || two === '>=' || two === '<=') {
      tokens.push({ kind: 'op', text: two, position });
      i += 2;
      continue;
    }
    if (two === '&&' || two === '||') {
      tokens.push({ kind: 'word', text: two === '&&' ? 'and' : 'or', position });
      i += 2;
      continue;
    }
    if (c === '=' || c === '>' || c === '<' || c === '~') {
      tokens.push({ kind: 'op', text: c, position });
      i++;
      continue;
    }
    if (c === '!') {
      tokens.push({ kind: 'word', text: 'not', position });
      i++;
      continue;
    }
    // '-' and '*' may start a word (relative dates, wildcard terms) but other reserved characters may not.
    if (RESERVED.has(c) && c !== '*') {
      const code = c.charCodeAt(0).toString(16).padStart(4, '0');
      throw syntaxError(
        `The character '${c}' is a reserved JQL character. You must enclose it in a string or use the escape '\\u${code}' instead.`,
        position,
      );
    }
    let j = i;
    while (j < n && (WORD_CHAR.test(source[j] as string) || source[j] === '*')) j++;
    if (j === i) {
      throw syntaxError(`The character '${c}' is a reserved JQL character.`, position);
    }
    tokens.push({ kind: 'word', text: source.slice(i, j), position });
    i = j;
  }
  tokens.push({ kind: 'eof', text: 'EOF', position: n + 1 });
  return tokens;
}

class Parser {
  private index = 0;

  constructor(private readonly tokens: Token[]) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.index + offset, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.index++;
    return t;
  }

  private isKeyword(t: Token, keyword: string): boolean {
    return t.kind === 'word' && t.text.toLowerCase() === keyword;
  }

  parseQuery(source: string): JqlQuery {
    let where: JqlExpr | undefined;
    if (this.peek().kind !== 'eof' && !this.isOrderBy()) where = this.parseOr();
    const orderBy: JqlOrderKey[] = [];
    if (this.isOrderBy()) {
      this.next();
      this.next();
      orderBy.push(this.parseOrderKey());
      while (this.peek().kind === 'comma') {
        this.next();
        orderBy.push(this.parseOrderKey());
      }
    }
    const t = this.peek();
    if (t.kind !== 'eof') {
      if (orderBy.length > 0)
        throw syntaxError(`Expecting either ',' or end of query but got '${t.text}'.`, t.position);
      throw syntaxError(`Expecting either 'OR' or 'AND' but got '${t.text}'.`, t.position);
    }
    return where === undefined ? { orderBy, source } : { where, orderBy, source };
  }

  private isOrderBy(): boolean {
    return this.isKeyword(this.peek(), 'order') && this.isKeyword(this.peek(1), 'by');
  }

  private parseOrderKey(): JqlOrderKey {
    const field = this.parseField();
    const t = this.peek();
    if (this.isKeyword(t, 'asc') || this.isKeyword(t, 'desc')) {
      this.next();
      return { field, direction: t.text.toLowerCase() as 'asc' | 'desc' };
    }
    return { field, direction: 'asc' };
  }

  private parseOr(): JqlExpr {
    const items = [this.parseAnd()];
    while (this.isKeyword(this.peek(), 'or')) {
      this.next();
      items.push(this.parseAnd());
    }
    return items.length === 1 ? (items[0] as JqlExpr) : { kind: 'or', items };
  }

  private parseAnd(): JqlExpr {
    const items = [this.parseNot()];
    while (this.isKeyword(this.peek(), 'and')) {
      this.next();
      items.push(this.parseNot());
    }
    return items.length === 1 ? (items[0] as JqlExpr) : { kind: 'and', items };
  }

  private parseNot(): JqlExpr {
    const t = this.peek();
    if (this.isKeyword(t, 'not')) {
      this.next();
      return { kind: 'not', item: this.parseNot() };
    }
    if (t.kind === 'lparen') {
      this.next();
      const inner = this.parseOr();
      const close = this.peek();
      if (close.kind !== 'rparen') {
        if (close.kind === 'eof') throw endError("Expecting ')' before the end of the query.", close.position);
        throw syntaxError(`Expecting either 'OR' or 'AND' but got '${close.text}'.`, close.position);
      }
      this.next();
      return inner;
    }
    return this.parseClause();
  }

  private parseField(): JqlFieldRef {
    const t = this.peek();
    if (t.kind === 'eof') throw endError('Expecting a field name at the end of the query.', t.position);
    if (t.kind === 'string') {
      this.next();
      return { name: t.text, position: t.position };
    }
    if (t.kind !== 'word' || KEYWORDS.has(t.text.toLowerCase())) {
      throw syntaxError(
        `Expecting a field name but got '${t.text}'. You must surround '${t.text}' in quotation marks to use it as a field name.`,
        t.position,
      );
    }
    this.next();
    if (t.text.toLowerCase() === 'cf' && this.peek().kind === 'lbracket') {
      this.next();
      const id = this.next();
      if (id.kind !== 'word' || !/^\d+$/u.test(id.text)) {
        throw syntaxError(`Expecting a custom field id but got '${id.text}'.`, id.position);
      }
      const close = this.next();
      if (close.kind !== 'rbracket') throw syntaxError(`Expecting ']' but got '${close.text}'.`, close.position);
      return { name: `cf[${id.text}]`, customId: `customfield_${id.text}`, position: t.position };
    }
    return { name: t.text, position: t.position };
  }

  private parseOperator(): JqlOperator {
    const t = this.peek();
    if (t.kind === 'op') {
      this.next();
      return t.text as JqlOperator;
    }
    if (this.isKeyword(t, 'in')) {
      this.next();
      return 'in';
    }
    if (this.isKeyword(t, 'not') && this.isKeyword(this.peek(1), 'in')) {
      this.next();
      this.next();
      return 'not in';
    }
    if (this.isKeyword(t, 'is')) {
      this.next();
      if (this.isKeyword(this.peek(), 'not')) {
        this.next();
        return 'is not';
      }
      return 'is';
    }
    if (t.kind === 'eof') throw endError('Expecting operator before the end of the query.', t.position);
    throw syntaxError(`Expecting operator but got '${t.text}'. The valid operators are ${OPERATORS_LIST}.`, t.position);
  }

  private parseClause(): JqlExpr {
    const field = this.parseField();
    const operator = this.parseOperator();
    const start = this.peek();
    let values: JqlValue[];
    if (operator === 'in' || operator === 'not in') {
      if (start.kind === 'lparen') values = this.parseList();
      else values = [this.parseValue(operator)];
    } else {
      if (start.kind === 'lparen') {
        throw syntaxError(
          `Expecting either a value or function but got '('. A list may only be used with the 'IN' and 'NOT IN' operators.`,
          start.position,
        );
      }
      values = [this.parseValue(operator)];
    }
    if (operator === 'is' || operator === 'is not') {
      if (values.some((v) => v.kind !== 'empty' && !(v.kind === 'string' && v.value.toLowerCase() === 'unresolved'))) {
        throw new JqlError(
          `The operator '${operator.toUpperCase()}' only supports searching for EMPTY values.`,
          start.position,
        );
      }
    }
    return { kind: 'clause', field, operator, values, position: field.position };
  }

  private parseList(): JqlValue[] {
    this.next();
    const values: JqlValue[] = [this.parseValue('in')];
    for (;;) {
      const t = this.peek();
      if (t.kind === 'comma') {
        this.next();
        values.push(this.parseValue('in'));
        continue;
      }
      if (t.kind === 'rparen') {
        this.next();
        return values;
      }
      if (t.kind === 'eof') throw endError("Expecting ')' before the end of the query.", t.position);
      throw syntaxError(`Expecting ')' but got '${t.text}'.`, t.position);
    }
  }

  private parseValue(operator: string): JqlValue {
    const t = this.peek();
    if (t.kind === 'string') {
      this.next();
      return { kind: 'string', value: t.text, quoted: true };
    }
    if (t.kind === 'word') {
      const lower = t.text.toLowerCase();
      if (lower === 'empty' || lower === 'null') {
        this.next();
        return { kind: 'empty' };
      }
      if (KEYWORDS.has(lower)) {
        throw syntaxError(
          `Expecting either a value, list or function but got '${t.text}'. You must surround '${t.text}' in quotation marks to use it as a value.`,
          t.position,
        );
      }
      this.next();
      if (this.peek().kind === 'lparen') return this.parseFunctionArgs(t);
      if (/^-?\d+(\.\d+)?$/u.test(t.text)) return { kind: 'number', value: Number(t.text), raw: t.text };
      return { kind: 'string', value: t.text, quoted: false };
    }
    if (t.kind === 'eof') {
      const what =
        operator === 'in' || operator === 'not in' ? 'a value, list or function' : 'either a value, list or function';
      throw endError(`Expecting ${what} before the end of the query.`, t.position);
    }
    throw syntaxError(`Expecting either a value, list or function but got '${t.text}'.`, t.position);
  }

  private parseFunctionArgs(name: Token): JqlValue {
    this.next();
    const args: string[] = [];
    if (this.peek().kind === 'rparen') {
      this.next();
      return { kind: 'function', name: name.text, args };
    }
    for (;;) {
      const a = this.next();
      if (a.kind !== 'word' && a.kind !== 'string') {
        if (a.kind === 'eof') throw endError(`Expecting ')' before the end of the query.`, a.position);
        throw syntaxError(`Expecting a function argument but got '${a.text}'.`, a.position);
      }
      args.push(a.text);
      const sep = this.next();
      if (sep.kind === 'rparen') return { kind: 'function', name: name.text, args };
      if (sep.kind !== 'comma') {
        if (sep.kind === 'eof') throw endError(`Expecting ')' before the end of the query.`, sep.position);
        throw syntaxError(`Expecting ',' or ')' but got '${sep.text}'.`, sep.position);
      }
    }
  }
}

/** Parses a JQL string; throws JqlError with Jira's wording on a syntax error. */
export function parseJql(jql: string): JqlQuery {
  if (typeof jql !== 'string') throw new JqlError('The JQL query must be a string.');
  return new Parser(tokenize(jql)).parseQuery(jql);
}
