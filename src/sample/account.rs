//! What happens after a lead converts: the account and contact, the New Business opportunity
//! through its stages, and for customers the contract years that follow: expansions,
//! renewals (on time, late or lost) and product usage that weakens before a churn.

use super::calendar::{self, Day, Ts, DAY_SECS};
use super::catalog::{CampaignType, Product};
use super::dist::{sigmoid, Rand};
use super::ids::SfId;
use super::lead::Profile;
use super::writer::Table;
use super::{Ctx, SampleError};

/// Win probability of a New Business opportunity: logit = WIN.0 + WIN.1 * q (+ trend, noise).
const WIN: (f64, f64) = (-2.5, 0.8);
const WIN_TREND: f64 = 0.35;
/// Renewal probability: logit = RENEW.0 + RENEW.1 * health + RENEW_TREND * progress.
const RENEW: (f64, f64) = (1.6, 1.0);
const RENEW_TREND: f64 = 0.8;
/// Chance of an expansion per contract year: logit = EXPAND.0 + EXPAND.1 * health.
const EXPAND: (f64, f64) = (-1.5, 0.6);

/// Median days in each open stage of a New Business opportunity (before the size factor).
const STAGE_DAYS: [f64; 4] = [7.0, 10.0, 14.0, 9.0];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stage {
    Qualification,
    NeedsAnalysis,
    Solution,
    Implementation,
    ClosedWon,
    ClosedLost,
}

impl Stage {
    const OPEN: [Stage; 4] = [
        Stage::Qualification,
        Stage::NeedsAnalysis,
        Stage::Solution,
        Stage::Implementation,
    ];

    fn name(self) -> &'static str {
        match self {
            Stage::Qualification => "Qualification",
            Stage::NeedsAnalysis => "Needs Analysis",
            Stage::Solution => "Solution",
            Stage::Implementation => "Implementation",
            Stage::ClosedWon => "Closed Won",
            Stage::ClosedLost => "Closed Lost",
        }
    }

    fn is_closed(self) -> bool {
        matches!(self, Stage::ClosedWon | Stage::ClosedLost)
    }

    /// Past the point where the amount is firm (a proposal exists).
    fn is_firm(self) -> bool {
        matches!(
            self,
            Stage::Solution | Stage::Implementation | Stage::ClosedWon
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    NewBusiness,
    Renewal,
    Expansion,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::NewBusiness => "New Business",
            Kind::Renewal => "Renewal",
            Kind::Expansion => "Expansion",
        }
    }
}

/// A won opportunity's contract.
#[derive(Clone, Copy)]
struct Contract {
    start: Day,
    end: Day,
    /// Annual contract value in cents.
    amount: i64,
    seats: i64,
    product: Product,
}

/// An opportunity's whole planned life; `emit` cuts it at the end date.
struct Opp {
    kind: Kind,
    created: Ts,
    /// Stage entries in time order; the first is Qualification at `created`, the last is
    /// Closed Won or Closed Lost.
    entries: Vec<(Stage, Ts)>,
    /// Amount in cents once firm, and the rough estimate before that.
    amount: i64,
    estimate: i64,
    product: Product,
    seats: i64,
    contract: Option<Contract>,
}

impl Opp {
    fn close_at(&self) -> Ts {
        self.entries.last().map_or(self.created, |e| e.1)
    }

    fn won(&self) -> bool {
        self.entries.last().is_some_and(|e| e.0 == Stage::ClosedWon)
    }
}

/// The customer an opportunity belongs to.
struct Customer<'a> {
    account: SfId,
    contact: SfId,
    company: &'a str,
    channel: &'static str,
    owner: SfId,
}

pub struct Conversion<'a> {
    pub profile: &'a Profile,
    /// When the lead converted (the opportunity's CreatedDate).
    pub created: Ts,
    pub q: f64,
    pub progress: f64,
    pub product: Product,
    pub seats: i64,
    /// List price of the seats, dollars per year.
    pub list_acv: f64,
}

/// The records a converted lead points to.
pub struct Converted {
    pub day: Day,
    pub account: SfId,
    pub contact: SfId,
    pub opportunity: SfId,
}

fn round_to(dollars: f64, step: f64) -> i64 {
    ((dollars / step).round() * step * 100.0) as i64
}

fn secs(days: f64) -> i64 {
    (days * DAY_SECS as f64) as i64
}

/// Writes the account, contact and New Business opportunity of a converting lead, and the
/// customer's later life when the deal is won.
pub fn convert(ctx: &mut Ctx, c: &Conversion) -> Result<Converted, SampleError> {
    let p = c.profile;
    let account = ctx.ids.account.next_id();
    let contact = ctx.ids.contact.next_id();
    let opportunity = ctx.ids.opportunity.next_id();
    let rng = &mut ctx.rng;
    let owner = rng.pick(&ctx.owners, account);
    let industry = (!rng.chance(0.02)).then_some(p.industry.name);
    let revenue = (!rng.chance(0.04)).then_some(p.revenue * 100);
    let employees = (!rng.chance(0.03)).then_some(p.employees);
    ctx.out.emit(Table::Accounts, |r| {
        r.id(&account)
            .str(&p.company)
            .opt_str(industry)
            .opt_money(revenue)
            .opt_int(employees)
            .str(p.country.name)
            .ts(c.created);
    })?;
    ctx.out.emit(Table::Contacts, |r| {
        r.id(&contact)
            .id(&account)
            .opt_str(p.title.as_deref())
            .str(&p.email)
            .ts(c.created);
    })?;

    let customer = Customer {
        account,
        contact,
        company: &p.company,
        channel: p.channel.info().name,
        owner,
    };
    let rng = &mut ctx.rng;
    let noise = 0.3 * rng.normal();
    let won = rng.chance(sigmoid(
        WIN.0 + WIN.1 * c.q + WIN_TREND * c.progress + noise,
    ));
    let entries = new_business_path(rng, c.created, won, p.band.cycle);
    let amount = round_to(c.list_acv * rng.uniform(0.75, 1.0), 100.0);
    let estimate = round_to(amount as f64 / 100.0 * rng.uniform(0.7, 1.35), 1000.0);
    let mut opp = Opp {
        kind: Kind::NewBusiness,
        created: c.created,
        entries,
        amount,
        estimate,
        product: c.product,
        seats: c.seats,
        contract: None,
    };
    if won {
        let close = calendar::day_of(opp.close_at());
        let start = (close + rng.int(1, 14)).min(ctx.world.end).max(close);
        let months = if rng.chance(0.12) { 24 } else { 12 };
        opp.contract = Some(Contract {
            start,
            end: calendar::add_months(start, months),
            amount,
            seats: c.seats,
            product: c.product,
        });
    }
    let won_visible = emit(ctx, &customer, opportunity, &opp)?;
    if let (true, Some(contract)) = (won_visible, opp.contract) {
        let health = 0.5 * p.fit + ctx.rng.normal();
        lifecycle(ctx, &customer, contract, health)?;
    }
    Ok(Converted {
        day: calendar::day_of(c.created),
        account,
        contact,
        opportunity,
    })
}

/// Stage entries of a New Business opportunity: the four open stages in order, with a few
/// skipped, a few returning from Solution to Needs Analysis, and losses spread over stages.
fn new_business_path(rng: &mut Rand, created: Ts, won: bool, cycle: f64) -> Vec<(Stage, Ts)> {
    let last_open = if won {
        3
    } else {
        rng.weighted(&[0.25, 0.30, 0.30, 0.15])
    };
    let mut entries = Vec::with_capacity(7);
    let mut t = created;
    let dwell = |rng: &mut Rand, s: usize, share: f64| -> i64 {
        secs(STAGE_DAYS[s] * cycle * share * rng.lognormal(1.0, 0.5))
    };
    for s in 0..=last_open {
        if (s == 1 || s == 2) && s < last_open && rng.chance(0.07) {
            continue; // skipped stage
        }
        entries.push((Stage::OPEN[s], t));
        t += dwell(rng, s, 1.0);
        if s == 2 && s < last_open && rng.chance(0.05) {
            // Back to Needs Analysis for a new stakeholder, then Solution again.
            entries.push((Stage::NeedsAnalysis, t));
            t += dwell(rng, 1, 0.6);
            entries.push((Stage::Solution, t));
            t += dwell(rng, 2, 0.5);
        }
    }
    entries.push((
        if won {
            Stage::ClosedWon
        } else {
            Stage::ClosedLost
        },
        t,
    ));
    entries
}

/// Writes the opportunity as it stands at the end date, and its stage history. Returns true
/// when it is closed won by then.
fn emit(ctx: &mut Ctx, cust: &Customer, id: SfId, opp: &Opp) -> Result<bool, SampleError> {
    let now = ctx.world.end_ts;
    let end = ctx.world.end;
    let visible = opp.entries.iter().take_while(|e| e.1 < now).count().max(1);
    let entries = &opp.entries[..visible.min(opp.entries.len())];
    let Some(&(stage, _)) = entries.last() else {
        return Ok(false);
    };
    let closed = stage.is_closed();
    let won = stage == Stage::ClosedWon;
    let final_at = opp.close_at();

    if ctx.tally.in_window(opp.created) {
        ctx.tally.opportunities += 1;
    }
    let contract = opp.contract.filter(|_| won);
    if let Some(k) = contract {
        ctx.tally.won_deal(calendar::day_of(final_at), k.product);
    }

    // A rep's expected close date as of each entry: the planned close, give or take.
    let rng = &mut ctx.rng;
    let mut forecasts = Vec::with_capacity(entries.len());
    let mut firm = false;
    for &(s, at) in entries {
        firm |= s.is_firm();
        let close = if s.is_closed() {
            calendar::day_of(at)
        } else {
            let left = (final_at - at).max(0) as f64;
            calendar::day_of(at + (left * rng.lognormal(1.0, 0.3)) as i64 + DAY_SECS)
        };
        forecasts.push((close, if firm { opp.amount } else { opp.estimate }));
    }
    if !closed {
        // Still open: its expected close date lies after the end date (pushed out if need be).
        if let Some(last) = forecasts.last_mut() {
            last.0 = last.0.max(end + 1 + rng.int(0, 6));
        }
    }
    let (close_date, amount) = forecasts.last().copied().unwrap_or((end + 1, opp.amount));

    let name = match opp.kind {
        Kind::NewBusiness => format!("{} - {} New Business", cust.company, opp.product.name()),
        Kind::Expansion => format!("{} - {} Expansion", cust.company, opp.product.name()),
        Kind::Renewal => {
            let (y, _, _) = calendar::civil_from_days(calendar::day_of(opp.created));
            format!("{} - Renewal {}", cust.company, y + 1)
        }
    };
    ctx.out.emit(Table::Opportunities, |r| {
        r.id(&id)
            .id(&cust.account)
            .str(&name)
            .ts(opp.created)
            .date(close_date)
            .str(stage.name())
            .money(amount)
            .boolean(closed)
            .boolean(won)
            .str(opp.kind.name())
            .str(cust.channel)
            .str(opp.product.name())
            .int(opp.seats)
            .opt_date(contract.map(|k| k.start))
            .opt_date(contract.map(|k| k.end))
            .id(&cust.owner);
    })?;
    for (&(s, at), &(close, amount)) in entries.iter().zip(&forecasts) {
        let hid = ctx.ids.history.next_id();
        ctx.out.emit(Table::OpportunityHistory, |r| {
            r.id(&hid)
                .id(&id)
                .ts(at)
                .str(s.name())
                .money(amount)
                .date(close);
        })?;
    }
    Ok(won)
}

/// How a contract year ends, which shapes its product usage.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Renews,
    RenewsLate,
    Churns,
}

/// Contract years of a customer after the first win, until it churns or the end date.
fn lifecycle(
    ctx: &mut Ctx,
    cust: &Customer,
    first: Contract,
    mut health: f64,
) -> Result<(), SampleError> {
    let end = ctx.world.end;
    let mut cur = first;
    let mut first_year = true;
    loop {
        if cur.start <= end && end <= cur.end {
            ctx.tally.active_customers += 1;
        }
        let added = expansions(ctx, cust, &cur, health)?;

        let rng = &mut ctx.rng;
        let progress = ctx.world.progress(calendar::start_of(cur.end));
        let renews = rng.chance(sigmoid(RENEW.0 + RENEW.1 * health + RENEW_TREND * progress));
        let gap = match rng.weighted(&[0.80, 0.16, 0.04]) {
            0 => 1,
            1 => rng.int(2, 31),
            _ => rng.int(32, 40),
        };
        let outcome = match (renews, gap) {
            (false, _) => Outcome::Churns,
            (true, g) if g > 10 => Outcome::RenewsLate,
            _ => Outcome::Renews,
        };
        usage(ctx, cust.account, &cur, first_year, outcome)?;
        if first_year {
            community_touch(ctx, cust, &cur)?;
        }

        let rng = &mut ctx.rng;
        let created_day = cur.end - rng.int(30, 75);
        if created_day > end {
            return Ok(());
        }
        let created = calendar::start_of(created_day) + rng.int(8 * 3600, 18 * 3600);
        let id = ctx.ids.opportunity.next_id();
        let base = cur.amount + added.0;
        if renews {
            let start = cur.end + gap;
            let mut close_day = (start - rng.int(0, 10)).max(created_day + 7);
            if start > end {
                // Not closed before its contract starts: still open at the end date.
                close_day = close_day.max(start);
            }
            let close = calendar::start_of(close_day) + rng.int(9 * 3600, 19 * 3600);
            let mid = created + ((close - created) as f64 * rng.uniform(0.3, 0.7)) as i64;
            let uplift = rng.uniform(0.97, 1.15);
            let amount = round_to(base as f64 / 100.0 * uplift, 100.0);
            let seats = (((cur.seats + added.1) as f64) * uplift).round().max(1.0) as i64;
            let months = if rng.chance(0.1) { 24 } else { 12 };
            let next = Contract {
                start,
                end: calendar::add_months(start, months),
                amount,
                seats,
                product: cur.product,
            };
            let opp = Opp {
                kind: Kind::Renewal,
                created,
                entries: vec![
                    (Stage::Qualification, created),
                    (Stage::Solution, mid),
                    (Stage::ClosedWon, close),
                ],
                amount,
                estimate: amount,
                product: cur.product,
                seats,
                contract: Some(next),
            };
            if !emit(ctx, cust, id, &opp)? {
                return Ok(());
            }
            cur = next;
            first_year = false;
            health += 0.35 * ctx.rng.normal();
        } else {
            let close_day = (cur.end + rng.int(-15, 25)).max(created_day + 5);
            let close = calendar::start_of(close_day) + rng.int(9 * 3600, 19 * 3600);
            let mut entries = vec![(Stage::Qualification, created)];
            if rng.chance(0.6) {
                let mid = created + ((close - created) as f64 * rng.uniform(0.3, 0.7)) as i64;
                entries.push((Stage::Solution, mid));
            }
            entries.push((Stage::ClosedLost, close));
            let opp = Opp {
                kind: Kind::Renewal,
                created,
                entries,
                amount: base,
                estimate: base,
                product: cur.product,
                seats: cur.seats + added.1,
                contract: None,
            };
            emit(ctx, cust, id, &opp)?;
            return Ok(());
        }
    }
}

/// Expansion opportunities during one contract (at most one per contract year), co-termed
/// with it. Returns the (amount in cents, seats) added by the won ones.
fn expansions(
    ctx: &mut Ctx,
    cust: &Customer,
    cur: &Contract,
    health: f64,
) -> Result<(i64, i64), SampleError> {
    let end = ctx.world.end;
    let mut added = (0, 0);
    let mut year_start = cur.start;
    while year_start + 150 < cur.end {
        let rng = &mut ctx.rng;
        let chance = sigmoid(EXPAND.0 + EXPAND.1 * health);
        let created_day = year_start + rng.int(60, 240);
        year_start += 365;
        if !rng.chance(chance) || created_day > cur.end - 60 || created_day > end {
            continue;
        }
        let created = calendar::start_of(created_day) + rng.int(8 * 3600, 18 * 3600);
        let won = rng.chance(0.65);
        let mut entries = Vec::with_capacity(4);
        let mut t = created;
        let stages = if won { 3 } else { 1 + rng.below(3) as usize };
        for (s, median) in [5.0, 7.0, 10.0].iter().enumerate().take(stages) {
            entries.push((Stage::OPEN[s], t));
            t += secs(median * rng.lognormal(1.0, 0.5));
        }
        entries.push((
            if won {
                Stage::ClosedWon
            } else {
                Stage::ClosedLost
            },
            t,
        ));
        let share = rng.uniform(0.15, 0.4);
        let amount = round_to(cur.amount as f64 / 100.0 * share, 100.0).max(100_000);
        let seats = ((cur.seats as f64 * share).round() as i64).max(1);
        let product = if rng.chance(0.5) {
            cur.product
        } else {
            cur.product.other()
        };
        let close = calendar::day_of(t);
        let start = (close + rng.int(1, 7)).min(end).min(cur.end).max(close);
        let contract = (won && start <= cur.end).then_some(Contract {
            start,
            end: cur.end,
            amount,
            seats,
            product,
        });
        let estimate = round_to(amount as f64 / 100.0 * rng.uniform(0.7, 1.4), 1000.0);
        let opp = Opp {
            kind: Kind::Expansion,
            created,
            entries,
            amount,
            estimate,
            product,
            seats,
            contract,
        };
        let id = ctx.ids.opportunity.next_id();
        if emit(ctx, cust, id, &opp)? && opp.won() {
            added.0 += amount;
            added.1 += seats;
        }
    }
    Ok(added)
}

/// Product telemetry for one contract, within the telemetry window: a nightly
/// `pipeline_run` on nearly every weekday for a healthy customer (so at least 4 in any 7
/// days), fading over the last months before a churn, plus occasional other events.
fn usage(
    ctx: &mut Ctx,
    account: SfId,
    contract: &Contract,
    first_year: bool,
    outcome: Outcome,
) -> Result<(), SampleError> {
    let from = contract.start.max(ctx.world.usage_start);
    let to = contract.end.min(ctx.world.end);
    for day in from..=to {
        let weekday = calendar::weekday(day) < 5;
        let mut p: f64 = if weekday { 0.975 } else { 0.08 };
        let since_start = (day - contract.start) as f64;
        if first_year && since_start < 21.0 {
            p *= 0.3 + 0.7 * since_start / 21.0; // onboarding
        }
        let left = (contract.end - day) as f64;
        match outcome {
            Outcome::Renews => {}
            Outcome::RenewsLate if left < 90.0 => p *= 0.6 + 0.4 * left / 90.0,
            Outcome::RenewsLate => {}
            Outcome::Churns if left < 150.0 => p *= 0.1 + 0.8 * left / 150.0,
            Outcome::Churns => p *= 0.9,
        }
        let rng = &mut ctx.rng;
        let midnight = calendar::start_of(day);
        let mut events: [Option<(&str, Ts)>; 3] = [None; 3];
        if rng.chance(p) {
            events[0] = Some(("pipeline_run", midnight + rng.int(3600, 6 * 3600)));
            if rng.chance(0.04) {
                events[1] = Some(("dag_deploy", midnight + rng.int(9 * 3600, 20 * 3600)));
            } else if rng.chance(0.015) {
                events[1] = Some(("task_failed", midnight + rng.int(6 * 3600, 7 * 3600)));
            }
            if rng.chance(0.005) {
                events[2] = Some(("user_invited", midnight + rng.int(20 * 3600, 23 * 3600)));
            }
        }
        for (name, at) in events.into_iter().flatten() {
            ctx.out.emit(Table::UsageEvents, |r| {
                r.id(&account).str(name).ts_iso(at);
            })?;
        }
    }
    Ok(())
}

/// Some customers' contacts join a later webinar: a campaign member with a ContactId and no
/// LeadId (campaign cohorts count lead members only).
fn community_touch(ctx: &mut Ctx, cust: &Customer, cur: &Contract) -> Result<(), SampleError> {
    let rng = &mut ctx.rng;
    if !rng.chance(0.2) {
        return Ok(());
    }
    let day = cur.start + rng.int(20, 200);
    if day > ctx.world.end {
        return Ok(());
    }
    let Some(position) = ctx.campaigns.running(rng, CampaignType::Webinar, day) else {
        return Ok(());
    };
    let at = calendar::start_of(day) + rng.int(9 * 3600, 18 * 3600);
    let responded = rng.chance(0.7);
    let Some(campaign) = ctx.campaigns.get_mut(position) else {
        return Ok(());
    };
    campaign.members += 1;
    let campaign_id = campaign.id;
    let id = ctx.ids.member.next_id();
    ctx.out.emit(Table::CampaignMembers, |r| {
        r.id(&id)
            .id(&campaign_id)
            .null()
            .id(&cust.contact)
            .ts(at)
            .boolean(responded)
            .opt_date(responded.then_some(day));
    })?;
    Ok(())
}
