//! Small running totals kept while leads stream by, and the three files written from them at
//! the end: marketing_spend.csv (spend follows lead volume, so CAC stays plausible at any
//! size), capacity_roles.csv (headcount sized from the last four weeks of demand, so each
//! role lands at a chosen utilization) and capacity_activities.csv.

use super::calendar::{self, Day, Ts};
use super::catalog::{Product, CHANNELS};
use super::dist::Rand;
use super::writer::{Out, Table};
use super::SampleError;

/// Days in the trailing demand window the capacity plan averages over.
const TRAILING_DAYS: i64 = 28;

pub struct Tally {
    first_month: i64,
    /// Leads per month (rows) and channel (columns, as `CHANNELS`).
    leads: Vec<[u64; 6]>,
    window_start: Ts,
    window_end: Ts,
    pub mqls: u64,
    pub sqls: u64,
    pub opportunities: u64,
    /// Won deals closed in the window: DPL, ETL.
    pub won: [u64; 2],
    /// Customers with a won contract covering the last day.
    pub active_customers: u64,
}

impl Tally {
    pub fn new(start: Day, end: Day) -> Tally {
        let first_month = calendar::month_number(start);
        let months = (calendar::month_number(end) - first_month + 1).max(1) as usize;
        Tally {
            first_month,
            leads: vec![[0; 6]; months],
            window_start: calendar::start_of(end + 1 - TRAILING_DAYS),
            window_end: calendar::start_of(end + 1),
            mqls: 0,
            sqls: 0,
            opportunities: 0,
            won: [0; 2],
            active_customers: 0,
        }
    }

    /// True when `ts` falls in the trailing window that ends with the last day.
    pub fn in_window(&self, ts: Ts) -> bool {
        ts >= self.window_start && ts < self.window_end
    }

    pub fn lead(&mut self, created: Ts, channel: usize) {
        let m = calendar::month_number(calendar::day_of(created)) - self.first_month;
        if let Some(row) = usize::try_from(m).ok().and_then(|m| self.leads.get_mut(m)) {
            if let Some(c) = row.get_mut(channel) {
                *c += 1;
            }
        }
    }

    pub fn won_deal(&mut self, close_day: Day, product: Product) {
        if self.in_window(calendar::start_of(close_day)) {
            self.won[usize::from(product == Product::Etl)] += 1;
        }
    }

    /// Writes marketing_spend.csv: one row per month and channel plus `Sales`.
    pub fn write_spend(&self, rng: &mut Rand, out: &mut Out) -> Result<(), SampleError> {
        let months = self.leads.len();
        for m in 0..months {
            let month = calendar::first_of_month(self.first_month + m as i64);
            // Efficiency improves over the history (cost per lead falls by about a quarter).
            let x = m as f64 / months.max(2).saturating_sub(1) as f64;
            let efficiency = 1.12 - 0.25 * x;
            // Salaries follow the trailing three months of volume: teams are hired ahead.
            let trailing = |c: usize| -> f64 {
                let lo = m.saturating_sub(2);
                let n = (m - lo + 1) as f64;
                (lo..=m).map(|k| self.leads[k][c] as f64).sum::<f64>() / n
            };
            let mut total_trailing = 0.0;
            for (c, info) in CHANNELS.iter().enumerate() {
                let leads = self.leads[m][c] as f64;
                let cost = &SPEND_PER_LEAD[c];
                let t = trailing(c);
                total_trailing += t;
                let program = leads * cost.program * efficiency * rng.uniform(0.85, 1.15);
                let salaries = t * cost.salaries * rng.uniform(0.97, 1.03);
                let tools = leads * cost.tools * rng.uniform(0.9, 1.1);
                let other = leads * cost.other * efficiency * rng.uniform(0.7, 1.3);
                out.emit(Table::MarketingSpend, |r| {
                    r.date(month)
                        .str(info.name)
                        .money(cents(program))
                        .money(cents(salaries))
                        .money(cents(tools))
                        .money(cents(other));
                })?;
            }
            let salaries = total_trailing * SALES_PER_LEAD.salaries * rng.uniform(0.97, 1.03);
            let tools = total_trailing * SALES_PER_LEAD.tools;
            let other = total_trailing * SALES_PER_LEAD.other * rng.uniform(0.7, 1.3);
            out.emit(Table::MarketingSpend, |r| {
                r.date(month)
                    .str("Sales")
                    .money(0)
                    .money(cents(salaries))
                    .money(cents(tools))
                    .money(cents(other));
            })?;
        }
        Ok(())
    }

    /// Writes capacity_activities.csv and capacity_roles.csv. Headcount is what the last four
    /// weeks of demand need at each role's target utilization, to one decimal.
    pub fn write_capacity(&self, out: &mut Out) -> Result<(), SampleError> {
        let weeks = TRAILING_DAYS as f64 / 7.0;
        let per_week = |unit: Unit, product: Option<Product>| -> f64 {
            let n = match (unit, product) {
                (Unit::Mql, _) => self.mqls as f64,
                (Unit::Sql, _) => self.sqls as f64,
                (Unit::Opportunity, _) => self.opportunities as f64,
                (Unit::WonDeal, None) => (self.won[0] + self.won[1]) as f64,
                (Unit::WonDeal, Some(Product::Dpl)) => self.won[0] as f64,
                (Unit::WonDeal, Some(Product::Etl)) => self.won[1] as f64,
                (Unit::CustomerMonth, _) => return self.active_customers as f64 / 4.33,
            };
            n / weeks
        };
        for a in ACTIVITIES {
            out.emit(Table::CapacityActivities, |r| {
                r.str(a.role.name())
                    .str(a.activity)
                    .str(a.unit.name())
                    .opt_str(a.product.map(Product::name))
                    .fixed(a.hundredths, 2);
            })?;
        }
        for role in ROLES {
            let required: f64 = ACTIVITIES
                .iter()
                .filter(|a| a.role == role.role)
                .map(|a| per_week(a.unit, a.product) * a.hundredths as f64 / 100.0)
                .sum();
            let utilization = role.utilization_pct as f64 / 100.0;
            let headcount = required / (HOURS_PER_WEEK as f64 * utilization * role.target);
            let tenths = ((headcount * 10.0).round() as i64).max(5);
            out.emit(Table::CapacityRoles, |r| {
                r.str(role.role.name())
                    .str(role.function)
                    .fixed(tenths, 1)
                    .int(HOURS_PER_WEEK)
                    .fixed(role.utilization_pct, 2);
            })?;
        }
        Ok(())
    }
}

fn cents(dollars: f64) -> i64 {
    (dollars * 100.0).round() as i64
}

/// Dollars of spend per lead of a channel.
struct SpendPerLead {
    program: f64,
    salaries: f64,
    tools: f64,
    other: f64,
}

/// Indexed like `CHANNELS`: Web, Paid Search, Outbound, Referral, Partner, Event.
const SPEND_PER_LEAD: [SpendPerLead; 6] = [
    SpendPerLead {
        program: 275.0,
        salaries: 650.0,
        tools: 75.0,
        other: 50.0,
    },
    SpendPerLead {
        program: 1200.0,
        salaries: 425.0,
        tools: 75.0,
        other: 37.5,
    },
    SpendPerLead {
        program: 225.0,
        salaries: 1400.0,
        tools: 150.0,
        other: 50.0,
    },
    SpendPerLead {
        program: 650.0,
        salaries: 225.0,
        tools: 25.0,
        other: 50.0,
    },
    SpendPerLead {
        program: 950.0,
        salaries: 550.0,
        tools: 37.5,
        other: 75.0,
    },
    SpendPerLead {
        program: 1625.0,
        salaries: 750.0,
        tools: 50.0,
        other: 450.0,
    },
];

/// Sales cost (channel `Sales`) per lead of all channels.
const SALES_PER_LEAD: SpendPerLead = SpendPerLead {
    program: 0.0,
    salaries: 2250.0,
    tools: 150.0,
    other: 200.0,
};

const HOURS_PER_WEEK: i64 = 40;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Sdr,
    Ae,
    Se,
    Implementation,
    Csm,
    Marketing,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Sdr => "SDR",
            Role::Ae => "AE",
            Role::Se => "SE",
            Role::Implementation => "Implementation",
            Role::Csm => "CSM",
            Role::Marketing => "Marketing",
        }
    }
}

#[derive(Clone, Copy)]
enum Unit {
    Mql,
    Sql,
    Opportunity,
    WonDeal,
    CustomerMonth,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Mql => "per_mql",
            Unit::Sql => "per_sql",
            Unit::Opportunity => "per_opportunity",
            Unit::WonDeal => "per_won_deal",
            Unit::CustomerMonth => "per_customer_month",
        }
    }
}

struct RoleInfo {
    role: Role,
    function: &'static str,
    utilization_pct: i64,
    /// Utilization the headcount is sized for (required / available hours).
    target: f64,
}

const ROLES: [RoleInfo; 6] = [
    RoleInfo {
        role: Role::Sdr,
        function: "sales",
        utilization_pct: 75,
        target: 0.85,
    },
    RoleInfo {
        role: Role::Ae,
        function: "sales",
        utilization_pct: 70,
        target: 0.95,
    },
    RoleInfo {
        role: Role::Se,
        function: "sales",
        utilization_pct: 70,
        target: 0.80,
    },
    RoleInfo {
        role: Role::Implementation,
        function: "implementation",
        utilization_pct: 80,
        target: 1.20,
    },
    RoleInfo {
        role: Role::Csm,
        function: "customer_success",
        utilization_pct: 70,
        target: 0.75,
    },
    RoleInfo {
        role: Role::Marketing,
        function: "marketing",
        utilization_pct: 65,
        target: 0.60,
    },
];

struct Activity {
    role: Role,
    activity: &'static str,
    unit: Unit,
    product: Option<Product>,
    hundredths: i64,
}

const ACTIVITIES: [Activity; 13] = [
    Activity {
        role: Role::Marketing,
        activity: "campaign operations",
        unit: Unit::Mql,
        product: None,
        hundredths: 100,
    },
    Activity {
        role: Role::Marketing,
        activity: "content and messaging",
        unit: Unit::Mql,
        product: None,
        hundredths: 60,
    },
    Activity {
        role: Role::Sdr,
        activity: "lead research and outreach",
        unit: Unit::Mql,
        product: None,
        hundredths: 150,
    },
    Activity {
        role: Role::Sdr,
        activity: "qualification call",
        unit: Unit::Sql,
        product: None,
        hundredths: 200,
    },
    Activity {
        role: Role::Ae,
        activity: "discovery and demo",
        unit: Unit::Opportunity,
        product: None,
        hundredths: 1200,
    },
    Activity {
        role: Role::Ae,
        activity: "proposal and negotiation",
        unit: Unit::WonDeal,
        product: None,
        hundredths: 600,
    },
    Activity {
        role: Role::Se,
        activity: "technical validation",
        unit: Unit::Opportunity,
        product: None,
        hundredths: 600,
    },
    Activity {
        role: Role::Se,
        activity: "solution design",
        unit: Unit::WonDeal,
        product: Some(Product::Dpl),
        hundredths: 400,
    },
    Activity {
        role: Role::Se,
        activity: "solution design",
        unit: Unit::WonDeal,
        product: Some(Product::Etl),
        hundredths: 800,
    },
    Activity {
        role: Role::Implementation,
        activity: "DPL implementation",
        unit: Unit::WonDeal,
        product: Some(Product::Dpl),
        hundredths: 4000,
    },
    Activity {
        role: Role::Implementation,
        activity: "ETL implementation",
        unit: Unit::WonDeal,
        product: Some(Product::Etl),
        hundredths: 8000,
    },
    Activity {
        role: Role::Csm,
        activity: "onboarding and check-ins",
        unit: Unit::CustomerMonth,
        product: None,
        hundredths: 300,
    },
    Activity {
        role: Role::Csm,
        activity: "renewal and expansion reviews",
        unit: Unit::CustomerMonth,
        product: None,
        hundredths: 50,
    },
];
