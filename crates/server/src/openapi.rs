//! `GET /api/openapi.json`: the OpenAPI 3 description of the HTTP API, generated with utoipa from
//! the handlers' `#[utoipa::path]` annotations (in [`crate::api`], [`crate::job_routes`] and
//! [`crate::backtests`]) and the types of [`crate::schema`].
//!
//! The schemas describe the JSON the handlers write; they are documentation types, not the
//! domain types of `barter-core`/`barter-store` (which stay free of OpenAPI derives). Money,
//! prices and volumes are decimal strings. Bodies too rich to restate here (position views, the
//! account, strategy configurations) are documented as free-form objects. Every `/api/*`
//! operation needs the bearer token and may answer 401; `/healthz` needs nothing.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorDetail};
use crate::{
    account_routes, api, backtests, check_body, halt_routes, instrument_body, job_routes,
    notify_routes, order_routes, params, schema, session_routes, status_routes,
};

/// The name of the bearer security scheme in the document.
const BEARER: &str = "bearer";

/// The whole API description; [`ApiDoc::openapi`] builds it.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Barter API",
        description = "Barter's read/manage API and its job (cron) endpoints. Every `/api/*` \
            route needs `Authorization: Bearer <token>` (the server's `BARTER_API_TOKEN`); \
            `/healthz` does not. Every error is `{\"error\": {\"code\", \"message\"}}`."
    ),
    paths(
        api::healthz,
        crate::metrics::scrape,
        openapi_json,
        api::instruments,
        api::add_instrument,
        api::remove_instrument,
        api::candles,
        api::runs,
        api::run,
        api::positions,
        api::position,
        api::history,
        api::strategies,
        api::check_strategies,
        api::account,
        halt_routes::state_of_halt,
        halt_routes::halt,
        halt_routes::resume,
        order_routes::list,
        order_routes::one,
        account_routes::list,
        notify_routes::list,
        notify_routes::test,
        status_routes::report,
        session_routes::sign_out_everywhere,
        job_routes::sync_data,
        job_routes::sync_new_trades,
        job_routes::sync_close_positions,
        job_routes::run_all,
        backtests::start,
        backtests::status,
        backtests::cancel,
    ),
    // Schemas used by a response or request body are collected by themselves; these are not:
    // `ErrorBody` is referenced by the 401 the modifier adds, `PositionFilter` by a parameter.
    components(schemas(ErrorBody, ErrorDetail, schema::PositionFilter,
        barter_service::backtest::SweepRow, barter_service::backtest::AcrossRow,
        // The constrained request values (see `crate::params`), referenced by name.
        params::SymbolParam, params::DayParam, params::Bounded<1, 1000>, params::Text<32>,
        params::Text<100>, params::Text<500>,
        // The shapes of `POST /api/instruments`' body, one per source.
        instrument_body::SampleInstrument, instrument_body::CoinGeckoInstrument,
        instrument_body::BinanceInstrument, instrument_body::AlpacaInstrument,
        instrument_body::CsvInstrument,
        // The shapes of `POST /api/strategies/check`' body.
        check_body::CheckStrategies, check_body::CheckRule,
        barter_core::strategy::StrategyConfig,
        // `POST /api/backtests`' body: its fields, and which of them go together.
        barter_service::backtest::BacktestRequest)),
    modifiers(&BearerOnApi),
    tags(
        (name = "health", description = "Liveness of the server and its database, and the status of everything."),
        (name = "meta", description = "This description."),
        (name = "instruments", description = "Registered instruments and their candles."),
        (name = "runs", description = "Job runs and the append-only history."),
        (name = "trading", description = "Positions and the paper account."),
        (name = "strategies", description = "Configured strategies and checking new ones."),
        (name = "jobs", description = "The cron endpoints: the same jobs as the CLI."),
        (name = "notifications", description = "Notification channels, deliveries and test messages."),
        (name = "backtests", description = "Backtests and parameter sweeps over the database's candles."),
        (name = "sessions", description = "The dashboard's signed-in browser sessions."),
    )
)]
pub(super) struct ApiDoc;

/// Adds the bearer scheme, and puts it and a 401 answer on every operation under `/api/`, and a
/// 403 answer on every state-changing one.
struct BearerOnApi;

impl Modify for BearerOnApi {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The server's BARTER_API_TOKEN."))
                    .build(),
            ),
        );
        let unauthorized = ResponseBuilder::new()
            .description(
                "No bearer token, or the wrong one (code `unauthorized`). After 5 wrong tokens \
                 within a minute from one address, code `too_many_attempts` with `Retry-After`: \
                 the address's dashboard sign-in is locked that long (the right token still \
                 passes).",
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        let forbidden = ResponseBuilder::new()
            .description(
                "Sent by a page of another site (`cross_site`), or by a dashboard session \
                 without its `x-csrf-token` header (`csrf`).",
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/") {
                continue;
            }
            for operation in [
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                operation
                    .responses
                    .responses
                    .entry("403".to_owned())
                    .or_insert_with(|| forbidden.clone().into());
            }
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
                &mut item.head,
                &mut item.options,
                &mut item.trace,
            ];
            for operation in operations.into_iter().flatten() {
                operation.security =
                    Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
                operation
                    .responses
                    .responses
                    .entry("401".to_owned())
                    .or_insert_with(|| unauthorized.clone().into());
            }
        }
    }
}

/// `GET /api/openapi.json`: this description.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "openapi",
    tag = "meta",
    summary = "This OpenAPI description",
    responses((status = 200, description = "The OpenAPI 3 document.", body = Object)),
)]
pub(crate) async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
