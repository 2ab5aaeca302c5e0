//! A Pratt parser from tokens to the syntax tree; stops at the first syntax error.
//!
//! Binding powers, loosest first: `or` < `and` < `not` < comparisons (not chainable) < `+ -` <
//! `* /` < unary `-` < postfix `[n]`, `.name` and calls.

use super::ast::{BinaryOp, Expr, ExprKind, UnaryOp};
use super::error::{RuleError, Span};
use super::lexer::{Token, TokenKind, lex};

const NOT_BP: u8 = 5;
const NEG_BP: u8 = 13;

/// The longest rule accepted, in characters. Real rules are a few hundred characters; the cap
/// keeps every pass over a rule (lexing, checking, the texts of its parts, suggestions) cheap,
/// whatever a config or a web form hands in.
pub const MAX_RULE_CHARS: usize = 10_000;

/// The deepest nesting accepted, in levels. Every parenthesis, `not`, unary `-`, operator
/// operand (so a chain `a and b and c ...` counts one level per term), call argument, `.name`
/// and `[n]` is one level. The parser refuses deeper rules, so the trees every later walk
/// recurses over (checker, evaluators, `history_needed`, `series_used`, printing) stay shallow
/// enough for a 2 MiB worker stack with room to spare, even in a debug build; a test runs the
/// deepest accepted rules on a 256 KiB thread. Real rules use well under 20 levels.
pub const MAX_DEPTH: usize = 64;

/// Parses a whole rule, or returns the lexical errors (all of them) or the first syntax error.
pub(crate) fn parse(source: &str) -> Result<Expr, Vec<RuleError>> {
    if let Some((at, _)) = source.char_indices().nth(MAX_RULE_CHARS) {
        return Err(vec![
            RuleError::new(
                Span::new(at, source.len()),
                format!("the rule is too long: at most {MAX_RULE_CHARS} characters"),
            )
            .with_help("split it into simpler conditions, or use fewer, longer-period indicators"),
        ]);
    }
    let tokens = lex(source)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
        error: None,
    };
    if parser.peek().kind == TokenKind::Eof {
        return Err(vec![
            RuleError::new(Span::new(0, source.len()), "the rule is empty")
                .with_help("write a condition such as `close > sma(close, 20)`"),
        ]);
    }
    let Some((expr, _)) = parser.expr(0) else {
        let error = parser.error.take().unwrap_or_else(|| {
            RuleError::new(Span::new(0, source.len()), "the rule could not be parsed")
        });
        return Err(vec![error]);
    };
    let next = parser.peek();
    if next.kind != TokenKind::Eof {
        let keyword = match &next.kind {
            TokenKind::Ident(word) => ["and", "or", "not"]
                .into_iter()
                .find(|k| word.eq_ignore_ascii_case(k)),
            _ => None,
        };
        let error = if next.kind == TokenKind::RParen {
            RuleError::new(next.span, "unmatched `)`")
        } else if let Some(keyword) = keyword {
            RuleError::new(next.span, format!("unexpected {}", describe(next, source)))
                .with_help(format!("keywords are lower case: `{keyword}`"))
        } else {
            RuleError::new(next.span, format!("unexpected {}", describe(next, source)))
                .with_help("join conditions with `and` or `or`")
        };
        return Err(vec![error]);
    }
    Ok(*expr)
}

/// How a token is named in messages.
fn describe(token: &Token, source: &str) -> String {
    match token.kind {
        TokenKind::Eof => "end of rule".to_owned(),
        _ => format!("`{}`", &source[token.span.start..token.span.end]),
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// The levels open around the expression being parsed (see [`MAX_DEPTH`]).
    depth: usize,
    /// The syntax error that stopped parsing; the functions below return `None` after setting
    /// it. Kept out of their return values so the frames they stack per level stay small.
    error: Option<RuleError>,
}

/// An expression and its height: the levels it adds below where it stands (0 for a leaf).
/// Boxed, so the values passed up and down the recursion are two words.
type Parsed = (Box<Expr>, usize);

/// The error for a rule nested deeper than [`MAX_DEPTH`], at the token opening the extra level.
fn too_deep(span: Span) -> RuleError {
    RuleError::new(
        span,
        format!("nested too deeply: at most {MAX_DEPTH} levels"),
    )
    .with_help(
        "every parenthesis, `not`, `-`, operator and call adds a level: \
         simplify the rule or split it into several strategies",
    )
}

impl Parser {
    fn peek(&self) -> &Token {
        // The lexer always ends with Eof and the parser never advances past it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_is(&self, kind: &TokenKind) -> bool {
        self.peek().kind == *kind
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::Eof {
            self.pos += 1;
        }
        token
    }

    /// Moves past the next token and returns its span.
    fn skip(&mut self) -> Span {
        let span = self.peek().span;
        if self.peek().kind != TokenKind::Eof {
            self.pos += 1;
        }
        span
    }

    /// Records `error` as the one that stops parsing.
    fn fail<T>(&mut self, error: RuleError) -> Option<T> {
        self.error = Some(error);
        None
    }

    /// An error at the next token, which is not what was `expected`.
    fn unexpected(&self, expected: &str) -> RuleError {
        let token = self.peek();
        let found = match &token.kind {
            TokenKind::Eof => "the end of the rule".to_owned(),
            TokenKind::Number { .. } => "a number".to_owned(),
            TokenKind::Ident(name) => format!("`{name}`"),
            TokenKind::Param(name) => format!("`${name}`"),
            TokenKind::Quoted(name) => format!("`\"{name}\"`"),
            kind => format!("`{}`", symbol(kind)),
        };
        RuleError::new(token.span, format!("expected {expected}, found {found}"))
    }

    /// The span of the next token if it is `kind` (moving past it), else the error.
    fn expect(&mut self, kind: &TokenKind, expected: &str) -> Option<Span> {
        if self.peek_is(kind) {
            Some(self.skip())
        } else {
            let error = self.unexpected(expected);
            self.fail(error)
        }
    }

    /// Checks that a node of `height` built here (its lhs one level lower, e.g. the next link of
    /// `a and b and c`) stays within [`MAX_DEPTH`]; `at` is the operator that adds the level.
    fn within_depth(&mut self, height: usize, at: Span) -> Option<usize> {
        if self.depth + height > MAX_DEPTH {
            self.fail(too_deep(at))
        } else {
            Some(height)
        }
    }

    // The functions on the recursion path (`nested`, `expr`, `prefix`, `unary`, `paren`,
    // `call`, `binary`, `lookback`) keep their frames small: each level of nesting stacks a few
    // of them, and a debug build gives every temporary its own stack slot. So they pass boxes
    // and options, and errors and nodes are built in helpers off that path.

    /// Parses a sub-expression one level deeper than the current one, or refuses at `at` (the
    /// token opening the level) when that would pass [`MAX_DEPTH`].
    fn nested(&mut self, at: Span, min_bp: u8) -> Option<Parsed> {
        if self.depth >= MAX_DEPTH {
            return self.fail(too_deep(at));
        }
        self.depth += 1;
        let parsed = self.expr(min_bp);
        self.depth -= 1;
        parsed
    }

    fn expr(&mut self, min_bp: u8) -> Option<Parsed> {
        let mut lhs = self.prefix()?;
        let mut last_was_comparison = false;
        loop {
            let step = match self.peek().kind {
                TokenKind::LBracket => self.lookback(&mut lhs),
                TokenKind::Dot => self.field(&mut lhs),
                TokenKind::LParen => self.call_on_value(),
                _ => match infix(&self.peek().kind) {
                    Some((op, lbp, rbp)) if lbp >= min_bp => {
                        let step = self.binary(&mut lhs, op, rbp, last_was_comparison);
                        last_was_comparison = op.is_comparison();
                        step
                    }
                    _ => return Some(lhs),
                },
            };
            step?;
        }
    }

    /// `lhs[offset]`, the `[` next.
    fn lookback(&mut self, lhs: &mut Parsed) -> Option<()> {
        let open = self.skip();
        lhs.1 = self.within_depth(lhs.1 + 1, open)?;
        let offset = self.nested(open, 0)?;
        lhs.1 = lhs.1.max(offset.1 + 1);
        let close = self.expect(&TokenKind::RBracket, "`]` to close the lookback")?;
        wrap_lookback(&mut lhs.0, offset.0, close);
        Some(())
    }

    /// `lhs.name`, the `.` next.
    fn field(&mut self, lhs: &mut Parsed) -> Option<()> {
        let dot = self.skip();
        lhs.1 = self.within_depth(lhs.1 + 1, dot)?;
        let token = self.advance();
        let TokenKind::Ident(name) = token.kind else {
            self.pos -= usize::from(token.kind != TokenKind::Eof);
            let error = self
                .unexpected("a name after `.`")
                .with_help("as in `BTC.close` or `macd(close, 12, 26, 9).signal`");
            return self.fail(error);
        };
        wrap_field(&mut lhs.0, name, token.span);
        Some(())
    }

    fn call_on_value(&mut self) -> Option<()> {
        let error = RuleError::new(self.peek().span, "unexpected `(`")
            .with_help("only a function name can be called, as in `sma(close, 20)`");
        self.fail(error)
    }

    /// `lhs op rhs`, the operator next.
    fn binary(
        &mut self,
        lhs: &mut Parsed,
        op: BinaryOp,
        rbp: u8,
        last_was_comparison: bool,
    ) -> Option<()> {
        let op_span = self.skip();
        if op.is_comparison() && last_was_comparison {
            return self.fail(chained(op_span));
        }
        lhs.1 = self.within_depth(lhs.1 + 1, op_span)?;
        let rhs = self.nested(op_span, rbp)?;
        lhs.1 = lhs.1.max(rhs.1 + 1);
        wrap_binary(&mut lhs.0, op, rhs.0);
        Some(())
    }

    fn prefix(&mut self) -> Option<Parsed> {
        match self.peek().kind {
            TokenKind::Minus => self.unary(UnaryOp::Neg, NEG_BP),
            TokenKind::Not => self.unary(UnaryOp::Not, NOT_BP),
            TokenKind::LParen => self.paren(),
            TokenKind::Ident(_)
                if self.tokens.get(self.pos + 1).map(|t| &t.kind) == Some(&TokenKind::LParen) =>
            {
                self.call()
            }
            _ => self.leaf(),
        }
    }

    /// A number, parameter, name or quoted symbol, or the error for a token that starts no value.
    fn leaf(&mut self) -> Option<Parsed> {
        let token = self.peek().clone();
        let kind = match token.kind {
            TokenKind::Number { value, percent } => ExprKind::Number { value, percent },
            TokenKind::Param(name) => ExprKind::Param(name),
            TokenKind::Quoted(name) => ExprKind::Quoted(name),
            TokenKind::Ident(name) => ExprKind::Ident(name),
            _ => {
                let error = self.unexpected("a value");
                return self.fail(error);
            }
        };
        self.skip();
        Some((
            Box::new(Expr {
                kind,
                span: token.span,
            }),
            0,
        ))
    }

    /// `-x` or `not x`, the operator next.
    fn unary(&mut self, op: UnaryOp, bp: u8) -> Option<Parsed> {
        let at = self.skip();
        let operand = self.nested(at, bp)?;
        Some((unary_node(op, at, operand.0), operand.1 + 1))
    }

    /// `( expr )`.
    fn paren(&mut self) -> Option<Parsed> {
        let open = self.skip();
        // Parentheses add no node, but they are a level of the parser's own recursion.
        let mut inner = self.nested(open, 0)?;
        let close = self.expect(&TokenKind::RParen, "`)`")?;
        inner.0.span = open.to(close);
        inner.1 += 1;
        Some(inner)
    }

    /// `name(args)`, the name next.
    fn call(&mut self) -> Option<Parsed> {
        let name_token = self.advance();
        let open = self.skip();
        let mut args = Vec::new();
        let mut height = 0;
        if !self.peek_is(&TokenKind::RParen) {
            loop {
                let arg = self.nested(open, 0)?;
                height = height.max(arg.1);
                args.push(*arg.0);
                if self.peek_is(&TokenKind::Comma) {
                    self.skip();
                } else {
                    break;
                }
            }
        }
        if !self.peek_is(&TokenKind::RParen) {
            return self.unclosed_call(&name_token);
        }
        let close = self.skip();
        Some((call_node(name_token, args, close), height + 1))
    }

    fn unclosed_call(&mut self, name_token: &Token) -> Option<Parsed> {
        let name = match &name_token.kind {
            TokenKind::Ident(name) => name.as_str(),
            _ => "?",
        };
        let error = self.unexpected(&format!("`,` or `)` in the call to `{name}`"));
        let error = if self.peek_is(&TokenKind::Eof) {
            error.with_help(format!("close the call to `{name}` with `)`"))
        } else {
            error
        };
        self.fail(error)
    }
}

/// A placeholder left behind while a node moves into its parent.
fn take(expr: &mut Expr) -> Expr {
    let empty = Expr {
        kind: ExprKind::Number {
            value: 0.0,
            percent: false,
        },
        span: Span::default(),
    };
    std::mem::replace(expr, empty)
}

/// Replaces `lhs` with `lhs[offset]` ending at `close`.
fn wrap_lookback(lhs: &mut Expr, offset: Box<Expr>, close: Span) {
    let base = take(lhs);
    *lhs = Expr {
        span: base.span.to(close),
        kind: ExprKind::Lookback {
            base: Box::new(base),
            offset,
        },
    };
}

/// Replaces `lhs` with `lhs.name`.
fn wrap_field(lhs: &mut Expr, name: String, name_span: Span) {
    let base = take(lhs);
    *lhs = Expr {
        span: base.span.to(name_span),
        kind: ExprKind::Field {
            base: Box::new(base),
            name,
            name_span,
        },
    };
}

/// Replaces `lhs` with `lhs op rhs`.
fn wrap_binary(lhs: &mut Expr, op: BinaryOp, rhs: Box<Expr>) {
    let left = take(lhs);
    *lhs = Expr {
        span: left.span.to(rhs.span),
        kind: ExprKind::Binary {
            op,
            lhs: Box::new(left),
            rhs,
        },
    };
}

fn unary_node(op: UnaryOp, at: Span, operand: Box<Expr>) -> Box<Expr> {
    Box::new(Expr {
        span: at.to(operand.span),
        kind: ExprKind::Unary { op, operand },
    })
}

fn call_node(name_token: Token, args: Vec<Expr>, close: Span) -> Box<Expr> {
    let name = match name_token.kind {
        TokenKind::Ident(name) => name,
        _ => String::new(),
    };
    Box::new(Expr {
        kind: ExprKind::Call {
            name,
            name_span: name_token.span,
            args,
        },
        span: name_token.span.to(close),
    })
}

fn chained(span: Span) -> RuleError {
    RuleError::new(span, "comparisons cannot be chained").with_help("write `a < b and b < c`")
}

/// The operator, left and right binding powers of an infix token.
fn infix(kind: &TokenKind) -> Option<(BinaryOp, u8, u8)> {
    let op = match kind {
        TokenKind::Or => return Some((BinaryOp::Or, 1, 2)),
        TokenKind::And => return Some((BinaryOp::And, 3, 4)),
        TokenKind::Lt => BinaryOp::Lt,
        TokenKind::Le => BinaryOp::Le,
        TokenKind::Gt => BinaryOp::Gt,
        TokenKind::Ge => BinaryOp::Ge,
        TokenKind::EqEq => BinaryOp::Eq,
        TokenKind::Ne => BinaryOp::Ne,
        TokenKind::Plus => return Some((BinaryOp::Add, 9, 10)),
        TokenKind::Minus => return Some((BinaryOp::Sub, 9, 10)),
        TokenKind::Star => return Some((BinaryOp::Mul, 11, 12)),
        TokenKind::Slash => return Some((BinaryOp::Div, 11, 12)),
        _ => return None,
    };
    Some((op, 7, 8))
}

/// How a punctuation or keyword token is written.
fn symbol(kind: &TokenKind) -> &'static str {
    match kind {
        TokenKind::And => "and",
        TokenKind::Or => "or",
        TokenKind::Not => "not",
        TokenKind::Plus => "+",
        TokenKind::Minus => "-",
        TokenKind::Star => "*",
        TokenKind::Slash => "/",
        TokenKind::Lt => "<",
        TokenKind::Le => "<=",
        TokenKind::Gt => ">",
        TokenKind::Ge => ">=",
        TokenKind::EqEq => "==",
        TokenKind::Ne => "!=",
        TokenKind::LParen => "(",
        TokenKind::RParen => ")",
        TokenKind::LBracket => "[",
        TokenKind::RBracket => "]",
        TokenKind::Comma => ",",
        TokenKind::Dot => ".",
        _ => "?",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(source: &str) -> String {
        parse(source).expect(source).to_string()
    }

    #[test]
    fn precedence_and_associativity_follow_the_table() {
        let cases = [
            ("a or b and c", "(a or (b and c))"),
            ("a and b or c", "((a and b) or c)"),
            ("not a and b", "((not a) and b)"),
            ("not a < b", "(not (a < b))"),
            ("a < b + c * d", "(a < (b + (c * d)))"),
            ("a - b - c", "((a - b) - c)"),
            ("a / b * c", "((a / b) * c)"),
            ("-a * b", "((-a) * b)"),
            ("-a[1]", "(-a[1])"),
            ("(a + b) * c", "((a + b) * c)"),
            ("a + -5%", "(a + (-5%))"),
            ("BTC.close[1] > close", "(BTC.close[1] > close)"),
            (
                "macd(close, 12, 26, 9).signal",
                "macd(close, 12, 26, 9).signal",
            ),
            ("sma(close, $fast)[1]", "sma(close, $fast)[1]"),
            ("\"BRK-B\".close > 1", "(\"BRK-B\".close > 1)"),
            ("f()", "f()"),
            ("not not a", "(not (not a))"),
        ];
        for (source, expected) in cases {
            assert_eq!(shape(source), expected, "{source}");
        }
    }

    #[test]
    fn spans_include_parentheses_and_whole_calls() {
        let source = "(close + 1) > sma(close, 20)";
        let ExprKind::Binary { lhs, rhs, .. } = parse(source).expect("parses").kind else {
            panic!("not a binary expression");
        };
        assert_eq!(&source[lhs.span.start..lhs.span.end], "(close + 1)");
        assert_eq!(&source[rhs.span.start..rhs.span.end], "sma(close, 20)");
    }

    #[test]
    fn syntax_errors_point_at_the_offending_token() {
        let cases = [
            ("", "the rule is empty", 0),
            ("close >", "expected a value, found the end of the rule", 7),
            ("close > > 1", "expected a value, found `>`", 8),
            (
                "sma(close, 20",
                "expected `,` or `)` in the call to `sma`, found the end of the rule",
                13,
            ),
            (
                "sma(close 20)",
                "expected `,` or `)` in the call to `sma`, found a number",
                10,
            ),
            (
                "close[1 > 2",
                "expected `]` to close the lookback, found the end of the rule",
                11,
            ),
            ("(close > 1", "expected `)`, found the end of the rule", 10),
            ("close > 1)", "unmatched `)`", 9),
            ("close > 1 open > 2", "unexpected `open`", 10),
            ("close > 1 AND open > 2", "unexpected `AND`", 10),
            ("1 < close < 2", "comparisons cannot be chained", 10),
            ("BTC. > 1", "expected a name after `.`, found `>`", 5),
            ("(close)(1)", "unexpected `(`", 7),
        ];
        for (source, message, start) in cases {
            let errors = parse(source).expect_err(source);
            assert_eq!(errors.len(), 1, "{source}");
            assert_eq!(errors[0].message, message, "{source}");
            assert_eq!(errors[0].span.start, start, "{source}");
        }
    }
}
