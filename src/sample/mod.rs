//! Deterministic sample data in the Beacon input contract (`beacon sample-data`).
//!
//! Writes the twelve CSV files of DATASETS.md (lead_qualification, accounts, contacts, leads,
//! opportunities, opportunity_history, campaigns, campaign_members, marketing_spend,
//! capacity_roles, capacity_activities, usage_events) for a made-up B2B data-pipeline vendor
//! selling two products (DPL, ETL), over three years ending at an end date. It exists so that a
//! new user can run the whole pipeline in a minute, so that tests have realistic inputs of any
//! size, and so that the metrics have something true to find: the data carries a known signal.
//!
//! # Guarantees
//! - Same (leads, seed, end date): byte-identical files on any machine. One ChaCha8 stream
//!   seeded from `seed`; our own sampling functions and `exp`/`ln` (see `dist`); integer
//!   dates and fixed-point money; no hash-map iteration.
//! - Streaming: each lead is simulated and written with everything that follows from it
//!   (its account, opportunities, renewals, usage) before the next one, so memory does not
//!   grow with the number of leads (state: the campaign calendar and monthly tallies).
//! - Consistent: every Id a row points to exists; nothing is dated after the end date except
//!   contract ends and the expected close dates of open opportunities (a campaign still
//!   running has no EndDate yet); a lead or opportunity whose next step would fall after the
//!   end date is still open there. `leads = 0` writes header-only files.
//!
//! # The signal
//! Each lead has a latent quality `q` (a logit, effects in `catalog` and `lead`):
//! `q = industry + size band + country + 0.35 ln(revenue per employee / industry median)
//!      + persona + channel + authority - 0.45 [SelfServiceOk] + 0.3 x responded nurture
//!      touches in 45 days + 1.0 x intent + 0.25 x (position in the history)`.
//! Persona: data leader +1.1, executive +0.5, engineer +0.35, analyst -0.35, other -1.3.
//! Channel: Referral +0.9, Partner +0.55, Event +0.2, Web 0, Outbound -0.1, Paid Search
//! -0.45. Size: 2-50 employees -0.9, 51-200 0, 201-1000 +0.5, 1001-5000 +0.6, more +0.2.
//! Industry from Software +0.6 to Nonprofit -1.0; country from United States +0.3 to India
//! -0.8. Authority: none -0.4 .. economic_buyer +0.4. `intent` is a hidden standard normal
//! that the BANT answers reveal with noise (lead_qualification: about 70% of leads, a fifth
//! of them also with an earlier, noisier row): Need and TimelineDays follow intent closely,
//! BudgetUsd follows intent and company size, and more intent means more campaign touches.
//! The funnel steps are coins with logistic probabilities in `q`: MQL (-1.0 + 1.2 q), SQL
//! (-1.3 + 1.0 q), opportunity (0.75 + 0.35 q), New Business win (-2.5 + 0.8 q + noise).
//! About 6% of leads win, usually within 120 days of creation (median about 60 days).
//!
//! Customers renew with a probability that rises with a health score (half firmographic fit,
//! half noise) and over the history; most renewals start the day after the contract ends,
//! some within a month, a few 32 to 40 days late; the rest churn. Usage events cover the last
//! 92 days (the product's telemetry window; timestamps in ISO 8601 `Z` form, since they do
//! not come from Salesforce): a healthy customer has a nightly `pipeline_run` on almost every
//! weekday (so at least 4 in nearly every 7 days); a customer that will churn fades over the
//! months before its contract ends, so the LIR leads retention.
//! Marketing spend follows lead volume by channel (cheap Referral and Web leads, expensive
//! Paid Search and Event leads, all getting cheaper over time) and capacity headcount is sized
//! from the last four weeks of demand, so CAC, LTV/CAC and role utilization land in plausible
//! ranges at any size (AE near 0.95; Implementation over, Marketing under capacity).

mod account;
mod calendar;
mod campaigns;
mod catalog;
mod dist;
mod ids;
mod lead;
mod tally;
mod timeline;
mod writer;

use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};

use calendar::{Day, Ts};
use campaigns::CampaignPlan;
use dist::Rand;
use ids::{prefix, IdSeq, SfId};
use tally::Tally;
use timeline::Timeline;
use writer::Out;

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleOptions {
    /// Number of leads over the whole history.
    pub leads: u64,
    /// Seed of the random stream; the same seed gives the same files.
    pub seed: u64,
    /// Last day of the history (UTC); nothing happens after it.
    pub end_date: NaiveDate,
    /// Write `<name>.csv.gz` files instead of plain CSV.
    pub gzip: bool,
}

impl SampleOptions {
    /// The default end date, `YYYY-MM-DD`.
    pub const DEFAULT_END_DATE: &str = "2026-11-15";

    /// Largest accepted number of leads.
    pub const MAX_LEADS: u64 = 1_000_000_000;

    /// `DEFAULT_END_DATE` as a date.
    pub fn default_end_date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 15).unwrap_or_default()
    }

    /// Options with the default end date.
    pub fn new(leads: u64, seed: u64) -> SampleOptions {
        SampleOptions {
            leads,
            seed,
            end_date: Self::default_end_date(),
            gzip: false,
        }
    }

    fn validate(&self) -> Result<(), SampleError> {
        if self.leads > Self::MAX_LEADS {
            return Err(SampleError::InvalidOptions(format!(
                "--leads {} is more than the supported {}",
                self.leads,
                Self::MAX_LEADS
            )));
        }
        let year = self.end_date.year();
        if !(1990..=9000).contains(&year) {
            return Err(SampleError::InvalidOptions(format!(
                "end date {} is outside the supported years 1990 to 9000",
                self.end_date
            )));
        }
        Ok(())
    }
}

/// What was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleSummary {
    /// (file name, data rows written), in a fixed order: lead_qualification, accounts,
    /// contacts, leads, opportunities, opportunity_history, campaigns, campaign_members,
    /// marketing_spend, capacity_roles, capacity_activities, usage_events.
    pub files: Vec<(String, u64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("invalid sample-data options: {0}")]
    InvalidOptions(String),
    #[error("cannot write {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write CSV file {}", path.display())]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
}

/// Writes the sample files into `out_dir` (created if needed; existing files of the same
/// names are replaced).
pub fn generate(opts: &SampleOptions, out_dir: &Path) -> Result<SampleSummary, SampleError> {
    opts.validate()?;
    std::fs::create_dir_all(out_dir).map_err(|source| SampleError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let mut out = Out::create(out_dir, opts.gzip)?;
    if opts.leads > 0 {
        out = simulate(opts, out)?;
    }
    Ok(SampleSummary {
        files: out.finish()?,
    })
}

/// Days of product telemetry kept (usage events are written for this many last days).
const USAGE_DAYS: i64 = 92;
/// Number of account executives owning opportunities.
const ACCOUNT_EXECUTIVES: usize = 8;

/// The fixed frame of the history.
struct World {
    start: Day,
    end: Day,
    /// Start of the day after `end`: everything that happens is before this instant.
    end_ts: Ts,
    usage_start: Day,
}

impl World {
    /// Position of `ts` in the history, 0 at the start and 1 at the end.
    fn progress(&self, ts: Ts) -> f64 {
        let span = (self.end_ts - calendar::start_of(self.start)).max(1) as f64;
        ((ts - calendar::start_of(self.start)) as f64 / span).clamp(0.0, 1.0)
    }
}

/// Per-object Id counters.
struct Ids {
    lead: IdSeq,
    account: IdSeq,
    contact: IdSeq,
    opportunity: IdSeq,
    history: IdSeq,
    member: IdSeq,
}

/// Everything the simulation of one lead reads and updates.
struct Ctx {
    rng: Rand,
    out: Out,
    ids: Ids,
    world: World,
    campaigns: CampaignPlan,
    tally: Tally,
    owners: Vec<SfId>,
}

fn simulate(opts: &SampleOptions, out: Out) -> Result<Out, SampleError> {
    let d = opts.end_date;
    let end = calendar::days_from_civil(i64::from(d.year()), d.month(), d.day());
    let start = calendar::add_months(end, -36) + 1;
    let mut rng = Rand::new(opts.seed);
    let campaigns = CampaignPlan::new(&mut rng, start, end);
    let mut users = IdSeq::new(prefix::USER);
    let owners = (0..ACCOUNT_EXECUTIVES).map(|_| users.next_id()).collect();
    let mut ctx = Ctx {
        rng,
        out,
        ids: Ids {
            lead: IdSeq::new(prefix::LEAD),
            account: IdSeq::new(prefix::ACCOUNT),
            contact: IdSeq::new(prefix::CONTACT),
            opportunity: IdSeq::new(prefix::OPPORTUNITY),
            history: IdSeq::new(prefix::OPPORTUNITY_HISTORY),
            member: IdSeq::new(prefix::CAMPAIGN_MEMBER),
        },
        world: World {
            start,
            end,
            end_ts: calendar::start_of(end + 1),
            usage_start: end + 1 - USAGE_DAYS,
        },
        campaigns,
        tally: Tally::new(start, end),
        owners,
    };
    let timeline = Timeline::new(start, end);
    for i in 0..opts.leads {
        let u = ctx.rng.f64();
        let created = timeline.at(i, opts.leads, u);
        lead::generate(&mut ctx, created)?;
    }
    ctx.campaigns.write(&mut ctx.out, end)?;
    ctx.tally.write_spend(&mut ctx.rng, &mut ctx.out)?;
    ctx.tally.write_capacity(&mut ctx.out)?;
    Ok(ctx.out)
}

#[cfg(test)]
mod tests;
