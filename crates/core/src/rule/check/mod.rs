//! The checker: resolves names, arities, parameters and types, collecting every problem it finds.

mod calls;

use std::collections::BTreeSet;

use crate::symbol::Symbol;

use super::ast::{BinaryOp, Expr, ExprKind, UnaryOp};
use super::error::{OneOf, RuleError, Span, suggest};
use super::functions::{self, CROSSES, Func, SeriesField};
use super::node::{Arg, ArgValue, Node, NodeKind, PositionValue};
use super::{Params, RuleKind};

/// A rule that passed the checks.
#[derive(Debug)]
pub(crate) struct Checked {
    /// The tree to evaluate.
    pub root: Node,
    /// Every other instrument named, with where.
    pub instruments: Vec<(Symbol, Span)>,
    /// The parameters used (names without `$`).
    pub params_used: BTreeSet<String>,
}

/// Checks a parsed rule; every error found is returned, not just the first.
pub(crate) fn check(
    expr: &Expr,
    source: &str,
    kind: RuleKind,
    params: &Params,
) -> Result<Checked, Vec<RuleError>> {
    let mut checker = Checker {
        source,
        kind,
        params,
        errors: Vec::new(),
        instruments: Vec::new(),
        params_used: BTreeSet::new(),
    };
    let root = checker.expr(expr);
    if let Some(root) = &root
        && root.ty == Ty::Number
    {
        let error = RuleError::new(
            root.node.span,
            format!(
                "a rule must be a condition (true or false), but {} is a number",
                quote(&root.node.text)
            ),
        )
        .with_help("compare it, as in `close > sma(close, 20)`");
        checker.errors.push(error);
    }
    match root {
        Some(root) if checker.errors.is_empty() => Ok(Checked {
            root: root.node,
            instruments: checker.instruments,
            params_used: checker.params_used,
        }),
        _ => Err(checker.errors),
    }
}

/// Number or condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Number,
    Boolean,
}

/// A checked expression and what is known about it.
struct Typed {
    node: Node,
    ty: Ty,
    /// It has a value on past days (false for exit-only values), so `[n]` and crosses work.
    history: bool,
    /// It changes from day to day (reads prices or the position).
    varies: bool,
    /// A literal number such as `5` or `-5%`.
    literal: bool,
    /// A literal written with `%`.
    percent: bool,
}

/// `` `text` `` when short enough to read in a message, else "this".
fn quote(text: &str) -> String {
    if text.chars().count() <= 40 {
        format!("`{text}`")
    } else {
        "this".to_owned()
    }
}

struct Checker<'a> {
    source: &'a str,
    kind: RuleKind,
    params: &'a Params,
    errors: Vec<RuleError>,
    instruments: Vec<(Symbol, Span)>,
    params_used: BTreeSet<String>,
}

impl Checker<'_> {
    /// The source of `span` on one line: comments dropped, whitespace runs collapsed.
    fn text(&self, span: Span) -> String {
        let raw = self.source.get(span.start..span.end).unwrap_or("");
        let without_comments: Vec<&str> = raw
            .lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .collect();
        without_comments
            .join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn typed(&self, kind: NodeKind, span: Span, ty: Ty) -> Typed {
        let literal = matches!(kind, NodeKind::Const(_));
        Typed {
            node: Node {
                text: self.text(span),
                record: ty == Ty::Number && !literal,
                kind,
                span,
            },
            ty,
            history: true,
            varies: true,
            literal,
            percent: false,
        }
    }

    fn error(&mut self, span: Span, message: impl Into<String>, help: Option<String>) {
        let mut error = RuleError::new(span, message);
        error.help = help;
        self.errors.push(error);
    }

    /// Checks `e`; `None` when it has an error (already reported), so parents don't repeat it.
    ///
    /// A dispatcher only: each level of a rule's nesting stacks this and one helper, so their
    /// frames are kept small (the parser bounds the depth, see [`super::MAX_DEPTH`]).
    fn expr(&mut self, e: &Expr) -> Option<Typed> {
        match &e.kind {
            ExprKind::Number { value, percent } => Some(self.number(*value, *percent, e.span)),
            ExprKind::Param(name) => self.param_value(name, e.span),
            ExprKind::Ident(name) => self.name(name, e.span),
            ExprKind::Quoted(name) => self.quoted(name, e.span),
            ExprKind::Unary { op, operand } => self.unary(*op, operand, e.span),
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, e.span),
            ExprKind::Call {
                name,
                name_span,
                args,
            } => self.call(name, *name_span, args, (e.span, e.span), None),
            ExprKind::Field {
                base,
                name,
                name_span,
            } => self.field(base, name, *name_span, e.span),
            ExprKind::Lookback { base, offset } => self.lookback(base, offset, e.span),
        }
    }

    fn number(&self, value: f64, percent: bool, span: Span) -> Typed {
        let mut t = self.typed(NodeKind::Const(value), span, Ty::Number);
        t.varies = false;
        t.percent = percent;
        t
    }

    fn param_value(&mut self, name: &str, span: Span) -> Option<Typed> {
        let value = self.param(name, span)?;
        let mut t = self.typed(value, span, Ty::Number);
        t.varies = false;
        Some(t)
    }

    fn quoted(&mut self, name: &str, span: Span) -> Option<Typed> {
        let help = format!("pick one of its series, as in `\"{name}\".close`");
        self.error(
            span,
            format!("`\"{name}\"` is an instrument, not a value"),
            Some(help),
        );
        None
    }

    fn unary(&mut self, op: UnaryOp, operand: &Expr, span: Span) -> Option<Typed> {
        let inner = self.expr(operand)?;
        match op {
            UnaryOp::Neg => self.neg(inner, span),
            UnaryOp::Not => self.not(inner, span),
        }
    }

    fn neg(&mut self, inner: Typed, span: Span) -> Option<Typed> {
        let inner = self.want(inner, Ty::Number, "`-`")?;
        let mut t = self.typed(NodeKind::Neg(Box::new(inner.node)), span, Ty::Number);
        (t.history, t.varies, t.literal) = (inner.history, inner.varies, inner.literal);
        t.node.record = !inner.literal;
        Some(t)
    }

    fn not(&mut self, inner: Typed, span: Span) -> Option<Typed> {
        let inner = self.want(inner, Ty::Boolean, "`not`")?;
        let mut t = self.typed(NodeKind::Not(Box::new(inner.node)), span, Ty::Boolean);
        (t.history, t.varies) = (inner.history, inner.varies);
        Some(t)
    }

    /// `base.name`: one output of a call, or an instrument's series.
    fn field(&mut self, base: &Expr, name: &str, name_span: Span, span: Span) -> Option<Typed> {
        match &base.kind {
            ExprKind::Call {
                name: function,
                name_span: function_span,
                args,
            } => self.call(
                function,
                *function_span,
                args,
                (base.span, span),
                Some((name, name_span)),
            ),
            ExprKind::Ident(instrument) | ExprKind::Quoted(instrument) => {
                self.instrument_field(instrument, base.span, name, name_span, span)
            }
            _ => {
                self.misplaced_field(name, name_span);
                None
            }
        }
    }

    fn instrument_field(
        &mut self,
        instrument: &str,
        instrument_span: Span,
        name: &str,
        name_span: Span,
        span: Span,
    ) -> Option<Typed> {
        let (symbol, field) =
            self.instrument_series(instrument, instrument_span, name, name_span)?;
        Some(self.typed(NodeKind::Series(Some(symbol), field), span, Ty::Number))
    }

    fn misplaced_field(&mut self, name: &str, name_span: Span) {
        let help = "as in `BTC.close` or `macd(close, 12, 26, 9).signal`".to_owned();
        let message =
            format!("`.{name}` can only follow an instrument or a function with several outputs");
        self.error(name_span, message, Some(help));
    }

    /// `base[offset]`.
    fn lookback(&mut self, base: &Expr, offset: &Expr, span: Span) -> Option<Typed> {
        let base_checked = self.expr(base);
        let offset = self.arg(offset, "a lookback", "`close[1]` or `close[$lag]`");
        self.looked_back(base_checked?, offset?, span)
    }

    fn looked_back(&mut self, base: Typed, offset: Arg, span: Span) -> Option<Typed> {
        if !base.history {
            let message = format!(
                "{} is only known today, so it cannot be looked back on",
                quote(&base.node.text)
            );
            self.error(span, message, None);
            return None;
        }
        if !base.varies {
            let message = format!(
                "a lookback needs a series, but {} is the same every day",
                quote(&base.node.text)
            );
            self.error(span, message, None);
            return None;
        }
        let ty = base.ty;
        Some(self.typed(NodeKind::Lookback(Box::new(base.node), offset), span, ty))
    }

    /// Checks that `t` has type `want` for the operator or function `what`.
    fn want(&mut self, t: Typed, want: Ty, what: &str) -> Option<Typed> {
        if t.ty == want {
            return Some(t);
        }
        let text = quote(&t.node.text);
        let (message, help) = match want {
            Ty::Number => (
                format!("{what} needs a number, but {text} is a condition (true or false)"),
                None,
            ),
            Ty::Boolean => (
                format!("{what} needs a condition (true or false), but {text} is a number"),
                Some("compare it with `>`, `<`, `>=`, `<=`, `==` or `!=`".to_owned()),
            ),
        };
        self.error(t.node.span, message, help);
        None
    }

    fn binary(&mut self, op: BinaryOp, lhs: &Expr, rhs: &Expr, span: Span) -> Option<Typed> {
        let a = self.expr(lhs);
        let b = self.expr(rhs);
        self.combine(op, a, b, span)
    }

    /// `a op b` once both sides are checked (off the recursion path, see [`Checker::expr`]).
    fn combine(
        &mut self,
        op: BinaryOp,
        a: Option<Typed>,
        b: Option<Typed>,
        span: Span,
    ) -> Option<Typed> {
        let what = format!("`{}`", op.symbol());
        let (want, ty) = match op {
            BinaryOp::And | BinaryOp::Or => (Ty::Boolean, Ty::Boolean),
            _ if op.is_comparison() => (Ty::Number, Ty::Boolean),
            _ => (Ty::Number, Ty::Number),
        };
        let a = a.and_then(|a| self.want(a, want, &what));
        let b = b.and_then(|b| self.want(b, want, &what));
        let (a, b) = (a?, b?);
        if op.is_comparison() {
            for (x, y) in [(&a, &b), (&b, &a)] {
                if is_rsi(&x.node) && y.percent {
                    let message = format!(
                        "`rsi` is on a 0 to 100 scale, but `{}` means {}",
                        y.node.text,
                        y.node
                            .text
                            .trim_end_matches('%')
                            .parse::<f64>()
                            .unwrap_or(0.0)
                            / 100.0
                    );
                    let help = format!("write `{}`", y.node.text.trim_end_matches('%'));
                    self.error(y.node.span, message, Some(help));
                    return None;
                }
            }
        }
        let (history, varies) = (a.history && b.history, a.varies || b.varies);
        let mut t = self.typed(
            NodeKind::Binary(op, Box::new(a.node), Box::new(b.node)),
            span,
            ty,
        );
        (t.history, t.varies) = (history, varies);
        Some(t)
    }

    /// A declared parameter, or an error naming the closest declared one.
    fn param(&mut self, name: &str, span: Span) -> Option<NodeKind> {
        if self.params.contains_key(name) {
            self.params_used.insert(name.to_owned());
            return Some(NodeKind::Param(name.to_owned()));
        }
        let help = match suggest(name, self.params.keys().map(String::as_str)) {
            Some(found) => format!("did you mean `${found}`?"),
            None if self.params.is_empty() => {
                format!("the strategy declares no parameters: add `{name}` with a default")
            }
            None => {
                let names: Vec<String> = self.params.keys().map(|k| format!("${k}")).collect();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                format!("use a declared parameter: {}", OneOf(&names))
            }
        };
        let mut error = RuleError::new(span, format!("unknown parameter `${name}`"));
        error.help = Some(help);
        error.unknown_parameter = Some(name.to_owned());
        self.errors.push(error);
        None
    }

    /// A bare name: a series or an exit-only value.
    fn name(&mut self, name: &str, span: Span) -> Option<Typed> {
        if let Some(field) = SeriesField::from_name(name) {
            return Some(self.typed(NodeKind::Series(None, field), span, Ty::Number));
        }
        if let Some(value) = PositionValue::from_name(name) {
            if self.kind == RuleKind::Entry {
                let message = format!("`{name}` can only be used in an exit rule");
                let help = "an entry rule runs before there is a position".to_owned();
                self.error(span, message, Some(help));
                return None;
            }
            let mut t = self.typed(NodeKind::Position(value), span, Ty::Number);
            t.history = false;
            return Some(t);
        }
        if let Some(spec) = functions::lookup(name) {
            let help = format!("call it, as in `{}`", spec.usage);
            self.error(span, format!("`{name}` is a function"), Some(help));
            return None;
        }
        if CROSSES.contains(&name) {
            let help = format!("call it, as in `{name}(close, sma(close, 20))`");
            self.error(span, format!("`{name}` is a function"), Some(help));
            return None;
        }
        let exit_values = PositionValue::ALL.map(PositionValue::as_str);
        let exit_values = exit_values
            .iter()
            .filter(|_| self.kind == RuleKind::Exit)
            .copied();
        let names = SeriesField::ALL.map(SeriesField::as_str);
        let help = match suggest(name, names.iter().copied().chain(exit_values)) {
            Some(found) => format!("did you mean `{found}`?"),
            None if name.chars().all(|c| !c.is_ascii_lowercase()) => {
                format!("another instrument's series is written `{name}.close`")
            }
            None => format!("use a series ({})", OneOf(&names)),
        };
        self.error(span, format!("unknown name `{name}`"), Some(help));
        None
    }

    /// `instrument.field`, e.g. `BTC.close`.
    fn instrument_series(
        &mut self,
        instrument: &str,
        instrument_span: Span,
        field: &str,
        field_span: Span,
    ) -> Option<(Symbol, SeriesField)> {
        let symbol = self.symbol(instrument, instrument_span);
        let names = SeriesField::ALL.map(SeriesField::as_str);
        let Some(field) = SeriesField::from_name(field) else {
            let help = match suggest(field, names) {
                Some(found) => format!("did you mean `{found}`?"),
                None => format!("use a series ({})", OneOf(&names)),
            };
            self.error(field_span, format!("unknown series `{field}`"), Some(help));
            return None;
        };
        Some((symbol?, field))
    }

    /// An instrument symbol written in a rule.
    fn symbol(&mut self, name: &str, span: Span) -> Option<Symbol> {
        let known = SeriesField::from_name(name).is_some()
            || PositionValue::from_name(name).is_some()
            || functions::all_names().any(|f| f == name);
        if known {
            self.error(span, format!("`{name}` is not an instrument"), None);
            return None;
        }
        match Symbol::parse(name) {
            Ok(symbol) => {
                self.instruments.push((symbol.clone(), span));
                Some(symbol)
            }
            Err(e) => {
                self.error(span, e.to_string(), None);
                None
            }
        }
    }

    /// A number argument fixed before the rule runs: a literal or a parameter.
    fn arg(&mut self, e: &Expr, what: &str, example: &str) -> Option<Arg> {
        let value = match &e.kind {
            ExprKind::Number { value, .. } => Some(*value),
            ExprKind::Unary {
                op: UnaryOp::Neg,
                operand,
            } => match operand.kind {
                ExprKind::Number { value, .. } => Some(-value),
                _ => None,
            },
            ExprKind::Param(name) => return self.param_arg(name, e.span),
            _ => None,
        };
        let Some(value) = value else {
            // Not a number or a parameter: check it anyway, for its own errors. Done here
            // rather than in a helper, so deeply nested wrong arguments stack one frame less
            // per level.
            let before = self.errors.len();
            let _ = self.expr(e);
            if self.errors.len() == before {
                self.not_an_arg_error(e.span, what, example);
            }
            return None;
        };
        Some(Arg {
            value: ArgValue::Const(value),
            span: e.span,
        })
    }

    fn param_arg(&mut self, name: &str, span: Span) -> Option<Arg> {
        match self.param(name, span)? {
            NodeKind::Param(name) => Some(Arg {
                value: ArgValue::Param(name),
                span,
            }),
            _ => None,
        }
    }

    fn not_an_arg_error(&mut self, span: Span, what: &str, example: &str) {
        let message = format!("{what} must be a number or a parameter, as in {example}");
        self.error(span, message, None);
    }
}

fn is_rsi(node: &Node) -> bool {
    matches!(&node.kind, NodeKind::Indicator(i) if i.spec.func == Func::Rsi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::parser::parse;

    fn params() -> Params {
        Params::from([("fast".to_owned(), 10.0), ("slow".to_owned(), 50.0)])
    }

    #[test]
    fn an_unknown_parameter_is_named_for_callers_to_explain() {
        let source = "sma(close, $fsat) > $n and clsoe > 1";
        let expr = parse(source).expect(source);
        let errors = check(&expr, source, RuleKind::Entry, &params()).expect_err("unknown");
        let named: Vec<Option<&str>> = errors
            .iter()
            .map(|e| e.unknown_parameter.as_deref())
            .collect();
        assert_eq!(named, [Some("fsat"), Some("n"), None]);
        let none = check(&expr, source, RuleKind::Entry, &Params::new()).expect_err("unknown");
        assert_eq!(
            none[0].help.as_deref(),
            Some("the strategy declares no parameters: add `fsat` with a default")
        );
    }

    fn errors(source: &str, kind: RuleKind) -> Vec<(String, Option<String>, String)> {
        let expr = parse(source).expect(source);
        match check(&expr, source, kind, &params()) {
            Ok(_) => Vec::new(),
            Err(errors) => errors
                .into_iter()
                .map(|e| {
                    (
                        e.message,
                        e.help,
                        source[e.span.start..e.span.end].to_owned(),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn well_formed_rules_pass_the_checks() {
        let cases = [
            (
                "crosses_above(sma(close, $fast), sma(close, $slow)) and rsi(close, 14) < 70",
                RuleKind::Entry,
            ),
            (
                "close > BTC.close[1] * 1.05 or not (volume > sma(volume, 20))",
                RuleKind::Entry,
            ),
            (
                "macd(close, 12, 26, 9).histogram > 0 and close < bollinger(close, 20, 2).lower",
                RuleKind::Entry,
            ),
            (
                "atr(14) > atr(BTC, 14) and \"BRK-B\".close > highest(high, 20)[1]",
                RuleKind::Entry,
            ),
            (
                "(close > open)[1] and crosses_below(ema(close, 5), wma(close, 5))[2]",
                RuleKind::Entry,
            ),
            (
                "return_since_entry > 5% or days_held >= 10 or close < highest_close_since_entry * (1 - 3%)",
                RuleKind::Exit,
            ),
            (
                "close < entry_price - 2 * atr(14) and roc(close, 10) < -5% and stddev(close, 20) > 0",
                RuleKind::Exit,
            ),
            ("lowest(low, $fast) < close[$fast]", RuleKind::Entry),
        ];
        for (source, kind) in cases {
            assert_eq!(errors(source, kind), Vec::new(), "{source}");
        }
    }

    #[test]
    fn each_kind_of_mistake_is_named_at_its_spot() {
        let cases: [(&str, RuleKind, &str, Option<&str>, &str); 23] = [
            (
                "emaa(close, 5) > 1",
                RuleKind::Entry,
                "unknown function `emaa`",
                Some("did you mean `ema`?"),
                "emaa",
            ),
            (
                "clsoe > 1",
                RuleKind::Entry,
                "unknown name `clsoe`",
                Some("did you mean `close`?"),
                "clsoe",
            ),
            (
                "sma(close, $fsat) > 1",
                RuleKind::Entry,
                "unknown parameter `$fsat`",
                Some("did you mean `$fast`?"),
                "$fsat",
            ),
            (
                "sma(close) > 1",
                RuleKind::Entry,
                "`sma` takes 2 arguments (series, period), but 1 was given",
                Some("as in `sma(close, 20)`"),
                "sma(close)",
            ),
            (
                "atr(BTC, 14, 2) > 1",
                RuleKind::Entry,
                "`atr` takes 1 argument (period) or an instrument first, but 3 were given",
                Some("as in `atr(14)` or `atr(BTC, 14)`"),
                "atr(BTC, 14, 2)",
            ),
            (
                "crosses_above(close) ",
                RuleKind::Entry,
                "`crosses_above` takes 2 arguments, but 1 was given",
                Some("as in `crosses_above(sma(close, 10), sma(close, 50))`"),
                "crosses_above(close)",
            ),
            (
                "close and open > 1",
                RuleKind::Entry,
                "`and` needs a condition (true or false), but `close` is a number",
                Some("compare it with `>`, `<`, `>=`, `<=`, `==` or `!=`"),
                "close",
            ),
            (
                "(close > open) + 1 > 2",
                RuleKind::Entry,
                "`+` needs a number, but `(close > open)` is a condition (true or false)",
                None,
                "(close > open)",
            ),
            (
                "sma(close, 20)",
                RuleKind::Entry,
                "a rule must be a condition (true or false), but `sma(close, 20)` is a number",
                Some("compare it, as in `close > sma(close, 20)`"),
                "sma(close, 20)",
            ),
            (
                "entry_price > close",
                RuleKind::Entry,
                "`entry_price` can only be used in an exit rule",
                Some("an entry rule runs before there is a position"),
                "entry_price",
            ),
            (
                "macd(close, 12, 26, 9) > 0",
                RuleKind::Entry,
                "`macd` has several outputs: pick one with `.line`, `.signal` or `.histogram`",
                Some("as in `macd(close, 12, 26, 9).signal`"),
                "macd(close, 12, 26, 9)",
            ),
            (
                "macd(close, 12, 26, 9).sgnal > 0",
                RuleKind::Entry,
                "`macd` has no output `sgnal`",
                Some("did you mean `signal`?"),
                "sgnal",
            ),
            (
                "sma(close, 5).upper > 0",
                RuleKind::Entry,
                "`sma` has a single output, so `.upper` is not needed",
                Some("write `sma(close, 20)`"),
                "upper",
            ),
            (
                "BTC.clsoe > 1",
                RuleKind::Entry,
                "unknown series `clsoe`",
                Some("did you mean `close`?"),
                "clsoe",
            ),
            (
                "sma(close + 1, 5) > 1",
                RuleKind::Entry,
                "the first argument of `sma` must be a price series such as `close` or `BTC.close`",
                Some("as in `sma(close, 20)`"),
                "close + 1",
            ),
            (
                "sma(close[1], 5) > 1",
                RuleKind::Entry,
                "the first argument of `sma` must be a price series such as `close`",
                Some("to look back, put `[1]` after the call, as in `sma(close, 20)[1]`"),
                "close[1]",
            ),
            (
                "sma(close, close) > 1",
                RuleKind::Entry,
                "the `period` of `sma` must be a number or a parameter, as in `20` or `$slow`",
                None,
                "close",
            ),
            (
                "close(1) > 1",
                RuleKind::Entry,
                "`close` is a series, not a function",
                Some("look back with `close[1]`"),
                "close",
            ),
            (
                "days_held[1] > 1",
                RuleKind::Exit,
                "`days_held` is only known today, so it cannot be looked back on",
                None,
                "days_held[1]",
            ),
            (
                "5[1] > 1",
                RuleKind::Entry,
                "a lookback needs a series, but `5` is the same every day",
                None,
                "5[1]",
            ),
            (
                "rsi(close, 14) < 70%",
                RuleKind::Entry,
                "`rsi` is on a 0 to 100 scale, but `70%` means 0.7",
                Some("write `70`"),
                "70%",
            ),
            (
                "sma > 1",
                RuleKind::Entry,
                "`sma` is a function",
                Some("call it, as in `sma(close, 20)`"),
                "sma",
            ),
            (
                "atr(close, 14) > 1",
                RuleKind::Entry,
                "`atr` reads high, low and close itself",
                Some("write `atr(14)`, or `atr(BTC, 14)` for another instrument"),
                "close",
            ),
        ];
        for (source, kind, message, help, spot) in cases {
            let expected = vec![(message.to_owned(), help.map(str::to_owned), spot.to_owned())];
            assert_eq!(errors(source, kind), expected, "{source}");
        }
    }

    #[test]
    fn every_problem_in_a_rule_is_reported() {
        let found = errors(
            "emaa(close, 5) > 1 and clsoe > $fsat and sma(close) > 1",
            RuleKind::Entry,
        );
        let messages: Vec<&str> = found.iter().map(|(m, _, _)| m.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "unknown function `emaa`",
                "unknown name `clsoe`",
                "unknown parameter `$fsat`",
                "`sma` takes 2 arguments (series, period), but 1 was given",
            ]
        );
    }

    #[test]
    fn other_instruments_and_parameters_used_are_collected() {
        let source = "BTC.close > 1 and atr(eth, $fast) > 0 and \"BRK-B\".volume > $slow";
        let expr = parse(source).expect("parses");
        let checked = check(&expr, source, RuleKind::Entry, &params()).expect("checks");
        let symbols: Vec<&str> = checked
            .instruments
            .iter()
            .map(|(s, _)| s.as_str())
            .collect();
        assert_eq!(symbols, vec!["BTC", "ETH", "BRK-B"]);
        assert_eq!(
            checked.params_used,
            BTreeSet::from(["fast".to_owned(), "slow".to_owned()])
        );
    }
}
