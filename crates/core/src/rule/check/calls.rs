//! Checking calls: indicator functions, their arguments and outputs, and the crossings.

use crate::symbol::Symbol;

use super::{Checker, Ty, Typed, quote};
use crate::rule::ast::{Expr, ExprKind};
use crate::rule::error::{OneOf, Span, suggest};
use crate::rule::functions::{self, CROSSES, FuncSpec, Input, SeriesField};
use crate::rule::node::{Arg, Indicator, NodeKind, PositionValue};

impl Checker<'_> {
    /// A call, with the output picked by `.name` if any. A dispatcher, so the frame each level
    /// of nested calls stacks stays small (see [`Checker::expr`]).
    pub(super) fn call(
        &mut self,
        name: &str,
        name_span: Span,
        args: &[Expr],
        spans: (Span, Span),
        output: Option<(&str, Span)>,
    ) -> Option<Typed> {
        if CROSSES.contains(&name) {
            return self.crosses(name, args, spans.1, output);
        }
        match functions::lookup(name) {
            None => self.unknown_call(name, name_span, args),
            Some(spec) if !arity_fits(spec, args.len()) => self.wrong_arity(spec, args, spans.0),
            Some(spec) => {
                // The arguments are checked in helpers (they may nest further) and the node
                // built in another, so the frames stacked per level of nesting stay small.
                let (input, rest) = args.split_at(args.len() - spec.args.len());
                let input = self.indicator_input(spec, input.first());
                let args = self.indicator_args(spec, rest);
                self.indicator_node(spec, input, args, spans, output)
            }
        }
    }

    fn unknown_call(&mut self, name: &str, name_span: Span, args: &[Expr]) -> Option<Typed> {
        self.not_a_function(name, name_span);
        for arg in args {
            let _ = self.expr(arg);
        }
        None
    }

    fn wrong_arity(&mut self, spec: &FuncSpec, args: &[Expr], call_span: Span) -> Option<Typed> {
        self.arity_error(spec, args.len(), call_span);
        // Bare names may be meant as instruments (`atr(BTC, ...)`): leave them be.
        for arg in args
            .iter()
            .filter(|a| !matches!(a.kind, ExprKind::Ident(_) | ExprKind::Quoted(_)))
        {
            let _ = self.expr(arg);
        }
        None
    }

    /// The number arguments of an indicator, each checked (all of them, for every error).
    fn indicator_args(&mut self, spec: &FuncSpec, rest: &[Expr]) -> Option<Vec<Arg>> {
        let mut checked_args = Vec::new();
        for (arg, (arg_name, _)) in rest.iter().zip(spec.args) {
            checked_args.push(self.arg(
                arg,
                &format!("the `{arg_name}` of `{}`", spec.name),
                "`20` or `$slow`",
            ));
        }
        checked_args.into_iter().collect()
    }

    fn indicator_node(
        &mut self,
        spec: &'static FuncSpec,
        (instrument, field): (Option<Option<Symbol>>, Option<SeriesField>),
        args: Option<Vec<Arg>>,
        (call_span, span): (Span, Span),
        output: Option<(&str, Span)>,
    ) -> Option<Typed> {
        let output = self.output(spec, output, call_span)?;
        let indicator = Indicator {
            spec,
            instrument: instrument?,
            field: field?,
            args: args?,
            output,
            call_span,
        };
        Some(self.typed(NodeKind::Indicator(Box::new(indicator)), span, Ty::Number))
    }

    /// The instrument and series an indicator reads, from its first argument if it has one.
    fn indicator_input(
        &mut self,
        spec: &FuncSpec,
        first: Option<&Expr>,
    ) -> (Option<Option<Symbol>>, Option<SeriesField>) {
        match (spec.input, first) {
            (Input::Series, Some(first)) => self.series_arg(first, spec).unzip(),
            (Input::Instrument, Some(first)) => self.instrument_arg(first, spec.name),
            (_, None) => (Some(None), Some(SeriesField::Close)),
        }
    }

    /// The optional first argument of `atr`: an instrument.
    fn instrument_arg(
        &mut self,
        first: &Expr,
        name: &str,
    ) -> (Option<Option<Symbol>>, Option<SeriesField>) {
        match &first.kind {
            ExprKind::Ident(n) if SeriesField::from_name(n).is_some() => {
                let message = format!("`{name}` reads high, low and close itself");
                let help =
                    format!("write `{name}(14)`, or `{name}(BTC, 14)` for another instrument");
                self.error(first.span, message, Some(help));
                (None, None)
            }
            ExprKind::Ident(n) | ExprKind::Quoted(n) => (
                self.symbol(n, first.span).map(Some),
                Some(SeriesField::Close),
            ),
            _ => {
                let message = format!(
                    "the first argument of `{name}` must be an instrument, as in `atr(BTC, 14)`"
                );
                self.error(first.span, message, None);
                (None, None)
            }
        }
    }

    fn not_a_function(&mut self, name: &str, span: Span) {
        let (message, help) = if SeriesField::from_name(name).is_some() {
            (
                format!("`{name}` is a series, not a function"),
                format!("look back with `{name}[1]`"),
            )
        } else if PositionValue::from_name(name).is_some() {
            (
                format!("`{name}` is a value, not a function"),
                format!("write `{name}` without parentheses"),
            )
        } else {
            let names: Vec<&str> = functions::all_names().collect();
            let help = match suggest(name, names.iter().copied()) {
                Some(found) => format!("did you mean `{found}`?"),
                None => format!("use a known function ({})", OneOf(&names)),
            };
            (format!("unknown function `{name}`"), help)
        };
        self.error(span, message, Some(help));
    }

    fn arity_error(&mut self, spec: &FuncSpec, given: usize, span: Span) {
        let names: Vec<&str> = spec.args.iter().map(|(n, _)| *n).collect();
        let were = if given == 1 { "was" } else { "were" };
        let message = match spec.input {
            Input::Series => format!(
                "`{}` takes {} arguments (series, {}), but {given} {were} given",
                spec.name,
                names.len() + 1,
                names.join(", ")
            ),
            Input::Instrument => format!(
                "`{}` takes {} ({}) or an instrument first, but {given} {were} given",
                spec.name,
                plural(names.len(), "argument"),
                names.join(", ")
            ),
        };
        self.error(span, message, Some(format!("as in `{}`", spec.usage)));
    }

    /// The first argument of an indicator: a price series of some instrument.
    fn series_arg(&mut self, e: &Expr, spec: &FuncSpec) -> Option<(Option<Symbol>, SeriesField)> {
        match &e.kind {
            ExprKind::Ident(name) if SeriesField::from_name(name).is_some() => {
                SeriesField::from_name(name).map(|f| (None, f))
            }
            ExprKind::Field {
                base,
                name,
                name_span,
            } => match &base.kind {
                ExprKind::Ident(i) | ExprKind::Quoted(i) => self
                    .instrument_series(i, base.span, name, *name_span)
                    .map(|(symbol, field)| (Some(symbol), field)),
                _ => self.not_a_series(e, spec),
            },
            ExprKind::Lookback { .. } => {
                self.lookback_as_series(e.span, spec);
                None
            }
            _ => self.not_a_series(e, spec),
        }
    }

    fn lookback_as_series(&mut self, span: Span, spec: &FuncSpec) {
        let message = format!(
            "the first argument of `{}` must be a price series such as `close`",
            spec.name
        );
        let help = format!(
            "to look back, put `[1]` after the call, as in `{}[1]`",
            spec.usage
        );
        self.error(span, message, Some(help));
    }

    fn not_a_series(&mut self, e: &Expr, spec: &FuncSpec) -> Option<(Option<Symbol>, SeriesField)> {
        let before = self.errors.len();
        let _ = self.expr(e);
        if self.errors.len() == before {
            self.not_a_series_error(e.span, spec);
        }
        None
    }

    fn not_a_series_error(&mut self, span: Span, spec: &FuncSpec) {
        let message = format!(
            "the first argument of `{}` must be a price series such as `close` or `BTC.close`",
            spec.name
        );
        self.error(span, message, Some(format!("as in `{}`", spec.usage)));
    }

    /// The output index picked by `.name`, checked against the function's outputs.
    fn output(
        &mut self,
        spec: &FuncSpec,
        output: Option<(&str, Span)>,
        span: Span,
    ) -> Option<usize> {
        match (output, spec.outputs) {
            (None, []) => Some(0),
            (None, outputs) => {
                let dotted: Vec<String> = outputs.iter().map(|o| format!(".{o}")).collect();
                let dotted: Vec<&str> = dotted.iter().map(String::as_str).collect();
                let message = format!(
                    "`{}` has several outputs: pick one with {}",
                    spec.name,
                    OneOf(&dotted)
                );
                self.error(span, message, Some(format!("as in `{}`", spec.usage)));
                None
            }
            (Some((name, name_span)), []) => {
                let message = format!(
                    "`{}` has a single output, so `.{name}` is not needed",
                    spec.name
                );
                self.error(name_span, message, Some(format!("write `{}`", spec.usage)));
                None
            }
            (Some((name, name_span)), outputs) => {
                if let Some(i) = outputs.iter().position(|o| *o == name) {
                    return Some(i);
                }
                let help = match suggest(name, outputs.iter().copied()) {
                    Some(found) => format!("did you mean `{found}`?"),
                    None => format!("pick {}", OneOf(outputs)),
                };
                self.error(
                    name_span,
                    format!("`{}` has no output `{name}`", spec.name),
                    Some(help),
                );
                None
            }
        }
    }

    fn crosses(
        &mut self,
        name: &str,
        args: &[Expr],
        span: Span,
        output: Option<(&str, Span)>,
    ) -> Option<Typed> {
        if args.len() != 2 {
            self.crosses_arity(name, args.len(), span);
            for arg in args {
                let _ = self.expr(arg);
            }
            return None;
        }
        let a = self.expr(&args[0]);
        let b = self.expr(&args[1]);
        self.crossing(name, a, b, span, output)
    }

    fn crosses_arity(&mut self, name: &str, given: usize, span: Span) {
        let were = if given == 1 { "was" } else { "were" };
        let message = format!("`{name}` takes 2 arguments, but {given} {were} given");
        let help = format!("as in `{name}(sma(close, 10), sma(close, 50))`");
        self.error(span, message, Some(help));
    }

    /// A crossing once both sides are checked (off the recursion path).
    fn crossing(
        &mut self,
        name: &str,
        a: Option<Typed>,
        b: Option<Typed>,
        span: Span,
        output: Option<(&str, Span)>,
    ) -> Option<Typed> {
        let what = format!("`{name}`");
        let a = a.and_then(|a| self.want(a, Ty::Number, &what));
        let b = b.and_then(|b| self.want(b, Ty::Number, &what));
        if let Some((field, field_span)) = output {
            self.error(
                field_span,
                format!("`{name}` has no output `{field}`"),
                None,
            );
            return None;
        }
        let (a, b) = (a?, b?);
        for side in [&a, &b] {
            if !side.history {
                let message = format!(
                    "`{name}` needs yesterday's value too, but {} is only known today",
                    quote(&side.node.text)
                );
                self.error(side.node.span, message, None);
                return None;
            }
        }
        let above = name == "crosses_above";
        let kind = NodeKind::Cross {
            above,
            a: Box::new(a.node),
            b: Box::new(b.node),
        };
        Some(self.typed(kind, span, Ty::Boolean))
    }
}

/// Whether `given` arguments suit `spec`: its number arguments after a series, or for
/// instrument functions with or without the instrument first.
fn arity_fits(spec: &FuncSpec, given: usize) -> bool {
    let expected = spec.args.len() + usize::from(spec.input == Input::Series);
    given == expected || (spec.input == Input::Instrument && given == spec.args.len() + 1)
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
