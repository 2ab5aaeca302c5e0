//! A Pratt parser from tokens to the syntax tree; stops at the first syntax error.
//!
//! Binding powers, loosest first: `or` < `and` < `not` < comparisons (not chainable) < `+ -` <
//! `* /` < unary `-` < postfix `[n]`, `.name` and calls.

use super::ast::{BinaryOp, Expr, ExprKind, UnaryOp};
use super::error::{RuleError, Span};
use super::lexer::{Token, TokenKind, lex};

const NOT_BP: u8 = 5;
const NEG_BP: u8 = 13;

/// Parses a whole rule, or returns the lexical errors (all of them) or the first syntax error.
pub(crate) fn parse(source: &str) -> Result<Expr, Vec<RuleError>> {
    let tokens = lex(source)?;
    let mut parser = Parser { tokens, pos: 0 };
    if parser.peek().kind == TokenKind::Eof {
        return Err(vec![
            RuleError::new(Span::new(0, source.len()), "the rule is empty")
                .with_help("write a condition such as `close > sma(close, 20)`"),
        ]);
    }
    let expr = parser.expr(0).map_err(|e| vec![e])?;
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
    Ok(expr)
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
}

impl Parser {
    fn peek(&self) -> &Token {
        // The lexer always ends with Eof and the parser never advances past it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::Eof {
            self.pos += 1;
        }
        token
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

    fn expect(&mut self, kind: TokenKind, expected: &str) -> Result<Token, RuleError> {
        if self.peek().kind == kind {
            Ok(self.advance())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn expr(&mut self, min_bp: u8) -> Result<Expr, RuleError> {
        let mut lhs = self.prefix()?;
        let mut last_was_comparison = false;
        loop {
            match self.peek().kind {
                TokenKind::LBracket => {
                    self.advance();
                    let offset = self.expr(0)?;
                    let close = self.expect(TokenKind::RBracket, "`]` to close the lookback")?;
                    let span = lhs.span.to(close.span);
                    lhs = Expr {
                        kind: ExprKind::Lookback {
                            base: Box::new(lhs),
                            offset: Box::new(offset),
                        },
                        span,
                    };
                    continue;
                }
                TokenKind::Dot => {
                    self.advance();
                    let token = self.advance();
                    let TokenKind::Ident(name) = token.kind else {
                        self.pos -= usize::from(token.kind != TokenKind::Eof);
                        return Err(self
                            .unexpected("a name after `.`")
                            .with_help("as in `BTC.close` or `macd(close, 12, 26, 9).signal`"));
                    };
                    let span = lhs.span.to(token.span);
                    lhs = Expr {
                        kind: ExprKind::Field {
                            base: Box::new(lhs),
                            name,
                            name_span: token.span,
                        },
                        span,
                    };
                    continue;
                }
                TokenKind::LParen => {
                    return Err(RuleError::new(self.peek().span, "unexpected `(`")
                        .with_help("only a function name can be called, as in `sma(close, 20)`"));
                }
                _ => {}
            }
            let Some((op, lbp, rbp)) = infix(&self.peek().kind) else {
                break;
            };
            if lbp < min_bp {
                break;
            }
            let op_token = self.advance();
            if op.is_comparison() && last_was_comparison {
                return Err(
                    RuleError::new(op_token.span, "comparisons cannot be chained")
                        .with_help("write `a < b and b < c`"),
                );
            }
            let rhs = self.expr(rbp)?;
            last_was_comparison = op.is_comparison();
            let span = lhs.span.to(rhs.span);
            lhs = Expr {
                kind: ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
            };
        }
        Ok(lhs)
    }

    fn prefix(&mut self) -> Result<Expr, RuleError> {
        let token = self.peek().clone();
        let leaf = |kind| {
            Ok(Expr {
                kind,
                span: token.span,
            })
        };
        match token.kind {
            TokenKind::Number { value, percent } => {
                self.advance();
                leaf(ExprKind::Number { value, percent })
            }
            TokenKind::Param(name) => {
                self.advance();
                leaf(ExprKind::Param(name))
            }
            TokenKind::Quoted(name) => {
                self.advance();
                leaf(ExprKind::Quoted(name))
            }
            TokenKind::Ident(name) => {
                self.advance();
                if self.peek().kind == TokenKind::LParen {
                    self.call(name, token.span)
                } else {
                    leaf(ExprKind::Ident(name))
                }
            }
            TokenKind::Minus | TokenKind::Not => {
                self.advance();
                let (op, bp) = if token.kind == TokenKind::Minus {
                    (UnaryOp::Neg, NEG_BP)
                } else {
                    (UnaryOp::Not, NOT_BP)
                };
                let operand = self.expr(bp)?;
                let span = token.span.to(operand.span);
                Ok(Expr {
                    kind: ExprKind::Unary {
                        op,
                        operand: Box::new(operand),
                    },
                    span,
                })
            }
            TokenKind::LParen => {
                self.advance();
                let mut inner = self.expr(0)?;
                let close = self.expect(TokenKind::RParen, "`)`")?;
                inner.span = token.span.to(close.span);
                Ok(inner)
            }
            _ => Err(self.unexpected("a value")),
        }
    }

    /// `name(` has been seen (the `(` not consumed): the arguments and the closing `)`.
    fn call(&mut self, name: String, name_span: Span) -> Result<Expr, RuleError> {
        self.advance();
        let mut args = Vec::new();
        if self.peek().kind != TokenKind::RParen {
            loop {
                args.push(self.expr(0)?);
                if self.peek().kind == TokenKind::Comma {
                    self.advance();
                } else {
                    break;
                }
            }
        }
        if self.peek().kind != TokenKind::RParen {
            let error = self.unexpected(&format!("`,` or `)` in the call to `{name}`"));
            return Err(if self.peek().kind == TokenKind::Eof {
                error.with_help(format!("close the call to `{name}` with `)`"))
            } else {
                error
            });
        }
        let close = self.advance();
        Ok(Expr {
            kind: ExprKind::Call {
                name,
                name_span,
                args,
            },
            span: name_span.to(close.span),
        })
    }
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
