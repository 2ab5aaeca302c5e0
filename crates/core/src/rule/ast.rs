//! The syntax tree the parser builds: untyped, with names not yet resolved (see `check`).

use std::fmt;

use super::error::Span;

/// An expression and the source it came from (parentheses included).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is.
    pub span: Span,
}

/// The shapes of expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExprKind {
    /// `14`, `1.5`, `5%` (value 0.05, `percent` set).
    Number { value: f64, percent: bool },
    /// A bare name: `close`, `entry_price`, `BTC` (before `.close`).
    Ident(String),
    /// A quoted symbol: `"BRK-B"` (before `.close`).
    Quoted(String),
    /// `$fast`.
    Param(String),
    /// `-x` or `not x`.
    Unary { op: UnaryOp, operand: Box<Expr> },
    /// `a + b`, `a < b`, `a and b`, ...
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `name(args)`.
    Call {
        name: String,
        name_span: Span,
        args: Vec<Expr>,
    },
    /// `base.name`: an instrument's series or one output of a function.
    Field {
        base: Box<Expr>,
        name: String,
        name_span: Span,
    },
    /// `base[offset]`: the value `offset` days back.
    Lookback { base: Box<Expr>, offset: Box<Expr> },
}

/// A prefix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnaryOp {
    Neg,
    Not,
}

/// An infix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

impl BinaryOp {
    /// How the operator is written.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::And => "and",
            Self::Or => "or",
        }
    }

    /// Whether it compares two numbers.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            Self::Lt | Self::Le | Self::Gt | Self::Ge | Self::Eq | Self::Ne
        )
    }
}

/// Fully parenthesised, to make the tree's shape visible in tests and debug output.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Number { value, percent } => {
                if *percent {
                    write!(f, "{}%", value * 100.0)
                } else {
                    write!(f, "{value}")
                }
            }
            ExprKind::Ident(name) => f.write_str(name),
            ExprKind::Quoted(name) => write!(f, "\"{name}\""),
            ExprKind::Param(name) => write!(f, "${name}"),
            ExprKind::Unary { op, operand } => match op {
                UnaryOp::Neg => write!(f, "(-{operand})"),
                UnaryOp::Not => write!(f, "(not {operand})"),
            },
            ExprKind::Binary { op, lhs, rhs } => write!(f, "({lhs} {} {rhs})", op.symbol()),
            ExprKind::Call { name, args, .. } => {
                write!(f, "{name}(")?;
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{arg}")?;
                }
                f.write_str(")")
            }
            ExprKind::Field { base, name, .. } => write!(f, "{base}.{name}"),
            ExprKind::Lookback { base, offset } => write!(f, "{base}[{offset}]"),
        }
    }
}
