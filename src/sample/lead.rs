//! One lead from creation to its state at the end date: firmographics, persona, channel,
//! campaign touches, BANT answers, and the funnel (MQL -> SQL -> opportunity), driven by a
//! latent quality score `q` (see the module docs of `sample` for the model). The lead's future
//! is simulated in full and then cut at the end date, so recent leads are honestly open.

use super::account::{self, Conversion};
use super::calendar::{self, Ts, DAY_SECS};
use super::campaigns::CampaignPlan;
use super::catalog::{
    Band, CampaignType, Channel, Country, Industry, Persona, PersonaInfo, Product, BANDS, CHANNELS,
    COMPANY_WORDS, COUNTRIES, FIRST_NAMES, FREE_MAIL, INDUSTRIES, LAST_NAMES, NURTURE_TOUCHES,
    PERSONAS,
};
use super::dist::{exp, ln, sigmoid, Rand};
use super::writer::Table;
use super::{Ctx, SampleError};

/// Logit intercepts and slopes of the funnel steps (on the latent quality `q`).
const MQL: (f64, f64) = (-1.0, 1.2);
const SQL: (f64, f64) = (-1.3, 1.0);
const OPP: (f64, f64) = (0.75, 0.35);
/// Weight of the unobserved buying intent in `q`.
const INTENT: f64 = 1.0;
/// Effect of each responded nurture touch in the first 45 days.
const TOUCH: f64 = 0.3;
/// Effect of a buyer happy to start self-service (fewer sales conversions).
const SELF_SERVICE: f64 = -0.45;
/// Effect of the Authority answer: none, influencer, decision_maker, economic_buyer.
const AUTHORITY: [f64; 4] = [-0.4, 0.0, 0.3, 0.4];
/// Improvement of the whole funnel from the start to the end of the history.
const TREND: f64 = 0.25;

const NEED: [&str; 5] = ["none", "low", "medium", "high", "critical"];
const AUTHORITY_NAMES: [&str; 4] = ["none", "influencer", "decision_maker", "economic_buyer"];
const INTEREST: [&str; 3] = ["DPL", "ETL", "both"];

/// Who the lead is: everything the lead row and a converted account need.
pub struct Profile {
    pub company: String,
    pub title: Option<String>,
    pub email: String,
    pub channel: Channel,
    pub industry: &'static Industry,
    pub band: &'static Band,
    pub country: &'static Country,
    pub persona: &'static PersonaInfo,
    pub employees: i64,
    /// Annual revenue in dollars.
    pub revenue: i64,
    /// Firmographic fit: industry + size + country + revenue effects.
    pub fit: f64,
}

struct Touch {
    campaign: usize,
    at: Ts,
    responded: Option<Ts>,
}

struct Answers {
    at: Ts,
    need: usize,
    budget: Option<i64>,
    authority: usize,
    timeline: Option<i64>,
    interest: usize,
    self_service: bool,
}

fn profile(rng: &mut Rand, progress: f64) -> Profile {
    let channel = CHANNELS[rng.weighted_by(CHANNELS, |c| {
        c.share_start + (c.share_end - c.share_start) * progress
    })]
    .channel;
    let industry = &INDUSTRIES[rng.weighted_by(INDUSTRIES, |i| i.weight)];
    let band = &BANDS[if channel == Channel::Outbound {
        rng.weighted_by(BANDS, |b| b.outbound_weight)
    } else {
        rng.weighted_by(BANDS, |b| b.weight)
    }];
    let country = &COUNTRIES[rng.weighted_by(COUNTRIES, |c| c.weight)];
    let persona = &PERSONAS[rng.weighted_by(PERSONAS, |p| p.weight)];

    let (lo, hi) = (ln(band.min), ln(band.max));
    let employees = exp(rng.uniform(lo, hi)).round() as i64;
    let per_employee = rng.lognormal(industry.revenue_per_employee, 0.45);
    let revenue = ((employees as f64 * per_employee / 10_000.0).round() as i64).max(10) * 10_000;
    let revenue_effect = (0.35 * ln(per_employee / industry.revenue_per_employee)).clamp(-0.6, 0.6);

    let word = rng.pick(COMPANY_WORDS, "Acme");
    let second = if rng.chance(0.3) {
        Some(rng.pick(COMPANY_WORDS, "Summit"))
    } else {
        None
    };
    let kind = rng.pick(industry.name_words, "Group");
    let mut base = String::with_capacity(40);
    base.push_str(word);
    if let Some(s) = second.filter(|s| *s != word) {
        base.push(' ');
        base.push_str(s);
    }
    base.push(' ');
    base.push_str(kind);
    let mut company = base.clone();
    if rng.chance(0.35) {
        company.push_str(country.legal_suffix);
    }

    let first = rng.pick(FIRST_NAMES, "Alex");
    let last = rng.pick(LAST_NAMES, "Doe");
    let mut email = String::with_capacity(48);
    push_slug(&mut email, first);
    email.push('.');
    push_slug(&mut email, last);
    email.push('@');
    if rng.chance(0.06) {
        email.push_str(rng.pick(FREE_MAIL, "gmail.com"));
    } else {
        push_slug(&mut email, &base);
        email.push('.');
        email.push_str(country.tld);
    }

    let title = if rng.chance(0.04) {
        None
    } else {
        let t = rng.pick(persona.titles, "Manager");
        Some(if rng.chance(0.05) {
            t.to_lowercase()
        } else {
            t.to_string()
        })
    };

    Profile {
        company,
        title,
        email,
        channel,
        industry,
        band,
        country,
        persona,
        employees,
        revenue,
        fit: industry.effect + band.effect + country.effect + revenue_effect,
    }
}

/// Lowercase letters and digits of `s` (for e-mail addresses).
fn push_slug(out: &mut String, s: &str) {
    out.extend(
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase()),
    );
}

fn days(d: f64) -> i64 {
    (d * DAY_SECS as f64) as i64
}

/// The campaign that brought the lead in (if any), then up to three nurture touches, more
/// for leads with more intent. Also returns how many nurture touches were responded to in the
/// first 45 days, which adds to the lead's quality.
fn touches(
    rng: &mut Rand,
    campaigns: &CampaignPlan,
    p: &Profile,
    created: Ts,
    intent: f64,
) -> (Vec<Touch>, u32) {
    let channel = p.channel.info();
    let mut touches = Vec::with_capacity(4);
    if rng.chance(channel.first_touch_rate) {
        let kind = rng.pick(channel.first_touch, CampaignType::Content);
        if let Some(campaign) = campaigns.running(rng, kind, calendar::day_of(created)) {
            let at = created + rng.int(0, 90);
            let responded = rng.chance(channel.first_response_rate).then(|| {
                if p.channel == Channel::Outbound {
                    at + days(rng.lognormal(2.0, 0.8)) // a reply to the sequence
                } else {
                    at // the form fill that created the lead
                }
            });
            touches.push(Touch {
                campaign,
                at,
                responded,
            });
        }
    }
    let mut at = created;
    let mut engaged = 0;
    for _ in 0..3 {
        if !rng.chance(sigmoid(-1.9 + 0.7 * intent)) {
            continue;
        }
        at += days(rng.lognormal(9.0, 0.9));
        let kind = NURTURE_TOUCHES[rng.weighted_by(NURTURE_TOUCHES, |t| t.1)].0;
        let responded = rng.chance(sigmoid(-0.2 + 0.8 * intent));
        if responded && at - created < days(45.0) {
            engaged += 1;
        }
        if let Some(campaign) = campaigns.running(rng, kind, calendar::day_of(at)) {
            touches.push(Touch {
                campaign,
                at,
                responded: responded.then_some(at + rng.int(0, 3600)),
            });
        }
    }
    (touches, engaged)
}

/// The buyer's situation (true values) and the BANT answers captured about it.
struct Buyer {
    product: Product,
    seats: i64,
    /// List price of the seats, dollars per year.
    list_acv: f64,
    authority: usize,
    self_service: bool,
    answers: Vec<Answers>,
}

/// About 70% of leads answer (more with more intent); a fifth of those answer twice, the
/// earlier answers noisier. Need and TimelineDays read the hidden intent, BudgetUsd reads
/// intent and company size, Authority comes from the persona.
fn buyer(rng: &mut Rand, p: &Profile, created: Ts, intent: f64) -> Buyer {
    let interest = rng.weighted(&[0.45, 0.35, 0.20]);
    let engineer = p.persona.persona == Persona::Engineer;
    let self_service = rng.chance(sigmoid(
        -1.3 + p.band.self_service + if engineer { 0.5 } else { 0.0 } - 0.4 * intent,
    ));
    let authority = rng.weighted(&p.persona.authority);
    let product = match interest {
        0 => Product::Dpl,
        1 => Product::Etl,
        _ if rng.chance(0.6) => Product::Etl,
        _ => Product::Dpl,
    };
    let seats = ((p.employees as f64).sqrt() * rng.uniform(0.5, 1.1))
        .round()
        .max(3.0) as i64;
    let list_acv = seats as f64 * product.seat_price();

    let mut answers = Vec::with_capacity(2);
    if rng.chance(sigmoid(0.75 + 0.45 * intent)) {
        let rows = if rng.chance(0.2) { 2 } else { 1 };
        let mut captured = created + rng.int(60, 3 * DAY_SECS);
        for row in 0..rows {
            let latest = row + 1 == rows;
            let noise = if latest { 0.5 } else { 1.0 };
            let need_latent = intent + noise * rng.normal();
            let need = [-1.3, -0.4, 0.4, 1.2]
                .iter()
                .filter(|&&c| need_latent > c)
                .count();
            let budget = rng.chance(sigmoid(0.4 + 0.6 * intent)).then(|| {
                let b = list_acv * exp(0.5 * intent + 0.5 * rng.normal());
                (b / 5_000.0).round() as i64 * 5_000
            });
            let timeline = rng.chance(0.78).then(|| {
                let d = 90.0 * exp(-0.55 * intent + 0.35 * rng.normal());
                let d = if d < 15.0 {
                    d.round().max(7.0) as i64
                } else {
                    (d / 15.0).round() as i64 * 15
                };
                d.min(540)
            });
            let (shown_interest, shown_authority) = if latest || rng.chance(0.8) {
                (interest, authority)
            } else {
                (rng.below(3) as usize, rng.weighted(&p.persona.authority))
            };
            answers.push(Answers {
                at: captured,
                need,
                budget,
                authority: shown_authority,
                timeline,
                interest: shown_interest,
                self_service,
            });
            captured += rng.int(2 * DAY_SECS, 25 * DAY_SECS);
        }
    }
    Buyer {
        product,
        seats,
        list_acv,
        authority,
        self_service,
        answers,
    }
}

/// When the lead would reach each funnel step (None: never), whether or not that is
/// before the end date.
struct Funnel {
    mql: Option<Ts>,
    sql: Option<Ts>,
    opportunity: Option<Ts>,
}

fn funnel(rng: &mut Rand, created: Ts, q: f64) -> Funnel {
    let mql = rng
        .chance(sigmoid(MQL.0 + MQL.1 * q))
        .then(|| created + days(rng.lognormal(3.0, 1.0)));
    let sql = mql.and_then(|m| {
        rng.chance(sigmoid(SQL.0 + SQL.1 * q))
            .then(|| m + days(rng.lognormal(5.0, 0.8)))
    });
    let opportunity = sql.and_then(|s| {
        rng.chance(sigmoid(OPP.0 + OPP.1 * q))
            .then(|| s + days(rng.lognormal(2.5, 0.7)))
    });
    Funnel {
        mql,
        sql,
        opportunity,
    }
}

/// Lead Status at `now` for a lead that has not converted: a step reached recently or about
/// to be reached keeps the lead in that step; a lead stalled for weeks goes to Nurture or is
/// disqualified (poor-fit leads more often).
fn status(rng: &mut Rand, f: &Funnel, created: Ts, now: Ts, q: f64) -> &'static str {
    let seen = |t: Option<Ts>| t.filter(|&t| t < now);
    let age = now - created;
    if let Some(s) = seen(f.sql) {
        if f.opportunity.is_some() || now - s < days(21.0) {
            "SQL"
        } else if rng.chance(0.5) {
            "Disqualified"
        } else {
            "Nurture"
        }
    } else if let Some(m) = seen(f.mql) {
        if f.sql.is_some() || now - m < days(30.0) {
            "MQL"
        } else if rng.chance(0.45) {
            "Disqualified"
        } else {
            "Nurture"
        }
    } else if f.mql.is_some() {
        if age < days(5.0) {
            "Open"
        } else {
            "Working"
        }
    } else if age < days(10.0) {
        "Open"
    } else if age < days(45.0) {
        if rng.chance(0.6) {
            "Working"
        } else {
            "Open"
        }
    } else if rng.chance(sigmoid(-0.3 - 0.8 * q)) {
        "Disqualified"
    } else {
        "Nurture"
    }
}

/// Simulates one lead created at `created` and writes it with its answers, campaign
/// memberships and, when it converted, everything that followed.
pub fn generate(ctx: &mut Ctx, created: Ts) -> Result<(), SampleError> {
    let now = ctx.world.end_ts;
    let seen = |t: Option<Ts>| t.filter(|&t| t < now);
    let progress = ctx.world.progress(created);
    let rng = &mut ctx.rng;
    let p = profile(rng, progress);
    let intent = rng.normal();
    let (touches, engaged) = touches(rng, &ctx.campaigns, &p, created, intent);
    let b = buyer(rng, &p, created, intent);
    let channel = p.channel.info();
    let q = p.fit
        + p.persona.effect
        + channel.effect
        + INTENT * intent
        + TOUCH * f64::from(engaged)
        + if b.self_service { SELF_SERVICE } else { 0.0 }
        + AUTHORITY[b.authority.min(3)]
        + TREND * progress;
    let f = funnel(rng, created, q);

    let lead_id = ctx.ids.lead.next_id();
    let converted = match seen(f.opportunity) {
        Some(at) => Some(account::convert(
            ctx,
            &Conversion {
                profile: &p,
                created: at,
                q,
                progress,
                product: b.product,
                seats: b.seats,
                list_acv: b.list_acv,
            },
        )?),
        None => None,
    };
    let rng = &mut ctx.rng;
    let status = if converted.is_some() {
        "Converted"
    } else {
        status(rng, &f, created, now, q)
    };
    // Missing values, as in real CRM data.
    let industry = (!rng.chance(0.05)).then_some(p.industry.name);
    let revenue = (!rng.chance(0.12)).then_some(p.revenue);
    let employees = (!rng.chance(0.08)).then_some(p.employees);
    let country = (!rng.chance(0.03)).then_some(p.country.name);

    ctx.tally.lead(created, p.channel.index());
    if seen(f.mql).is_some_and(|m| ctx.tally.in_window(m)) {
        ctx.tally.mqls += 1;
    }
    if seen(f.sql).is_some_and(|s| ctx.tally.in_window(s)) {
        ctx.tally.sqls += 1;
    }

    let out = &mut ctx.out;
    out.emit(Table::Leads, |r| {
        r.id(&lead_id)
            .ts(created)
            .str(&p.company)
            .opt_str(p.title.as_deref())
            .str(&p.email)
            .str(channel.name)
            .str(status)
            .opt_str(industry)
            .opt_money(revenue.map(|d| d * 100))
            .opt_int(employees)
            .opt_str(country)
            .boolean(converted.is_some())
            .opt_date(converted.as_ref().map(|c| c.day))
            .opt_id(converted.as_ref().map(|c| &c.account))
            .opt_id(converted.as_ref().map(|c| &c.contact))
            .opt_id(converted.as_ref().map(|c| &c.opportunity))
            .opt_ts(seen(f.mql))
            .opt_ts(seen(f.sql));
    })?;

    for a in b.answers.iter().filter(|a| a.at < now) {
        out.emit(Table::LeadQualification, |r| {
            r.id(&lead_id)
                .ts(a.at)
                .str(NEED[a.need.min(4)])
                .opt_money(a.budget.map(|b| b * 100))
                .str(AUTHORITY_NAMES[a.authority.min(3)])
                .opt_int(a.timeline)
                .str(INTEREST[a.interest.min(2)])
                .boolean(a.self_service);
        })?;
    }

    for t in touches.iter().filter(|t| t.at < now) {
        let Some(campaign) = ctx.campaigns.get_mut(t.campaign) else {
            continue;
        };
        campaign.members += 1;
        let campaign_id = campaign.id;
        let member_id = ctx.ids.member.next_id();
        let responded = t.responded.filter(|&r| r < now);
        // Salesforce fills in ContactId on a lead's memberships when the lead converts.
        let contact = converted.as_ref().map(|c| &c.contact);
        out.emit(Table::CampaignMembers, |r| {
            r.id(&member_id)
                .id(&campaign_id)
                .id(&lead_id)
                .opt_id(contact)
                .ts(t.at)
                .boolean(responded.is_some())
                .opt_date(responded.map(calendar::day_of));
        })?;
    }
    Ok(())
}
