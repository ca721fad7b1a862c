//! The twelve output CSV files: their names and contract columns (DATASETS.md), a reusable row
//! buffer with the value formats the contract asks for, and buffered writers that count rows.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::calendar::{self, Day, Ts};
use super::ids::SfId;
use super::SampleError;

/// One output file. The discriminant is the position in `Table::ALL`, which is also the order
/// of `SampleSummary::files`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Table {
    LeadQualification = 0,
    Accounts,
    Contacts,
    Leads,
    Opportunities,
    OpportunityHistory,
    Campaigns,
    CampaignMembers,
    MarketingSpend,
    CapacityRoles,
    CapacityActivities,
    UsageEvents,
}

impl Table {
    pub const ALL: [Table; 12] = [
        Table::LeadQualification,
        Table::Accounts,
        Table::Contacts,
        Table::Leads,
        Table::Opportunities,
        Table::OpportunityHistory,
        Table::Campaigns,
        Table::CampaignMembers,
        Table::MarketingSpend,
        Table::CapacityRoles,
        Table::CapacityActivities,
        Table::UsageEvents,
    ];

    pub fn file_name(self) -> &'static str {
        match self {
            Table::LeadQualification => "lead_qualification.csv",
            Table::Accounts => "accounts.csv",
            Table::Contacts => "contacts.csv",
            Table::Leads => "leads.csv",
            Table::Opportunities => "opportunities.csv",
            Table::OpportunityHistory => "opportunity_history.csv",
            Table::Campaigns => "campaigns.csv",
            Table::CampaignMembers => "campaign_members.csv",
            Table::MarketingSpend => "marketing_spend.csv",
            Table::CapacityRoles => "capacity_roles.csv",
            Table::CapacityActivities => "capacity_activities.csv",
            Table::UsageEvents => "usage_events.csv",
        }
    }

    /// The contract's column names, in the order the files carry them.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Table::LeadQualification => &[
                "LeadId",
                "CapturedAt",
                "Need",
                "BudgetUsd",
                "Authority",
                "TimelineDays",
                "ProductInterest",
                "SelfServiceOk",
            ],
            Table::Accounts => &[
                "Id",
                "Name",
                "Industry",
                "AnnualRevenue",
                "NumberOfEmployees",
                "BillingCountry",
                "CreatedDate",
            ],
            Table::Contacts => &["Id", "AccountId", "Title", "Email", "CreatedDate"],
            Table::Leads => &[
                "Id",
                "CreatedDate",
                "Company",
                "Title",
                "Email",
                "LeadSource",
                "Status",
                "Industry",
                "AnnualRevenue",
                "NumberOfEmployees",
                "Country",
                "IsConverted",
                "ConvertedDate",
                "ConvertedAccountId",
                "ConvertedContactId",
                "ConvertedOpportunityId",
                "MQL_Date__c",
                "SQL_Date__c",
            ],
            Table::Opportunities => &[
                "Id",
                "AccountId",
                "Name",
                "CreatedDate",
                "CloseDate",
                "StageName",
                "Amount",
                "IsClosed",
                "IsWon",
                "Type",
                "LeadSource",
                "Product_Type__c",
                "Seats__c",
                "Contract_Start__c",
                "Contract_End__c",
                "OwnerId",
            ],
            Table::OpportunityHistory => &[
                "Id",
                "OpportunityId",
                "CreatedDate",
                "StageName",
                "Amount",
                "CloseDate",
            ],
            Table::Campaigns => &["Id", "Name", "Type", "StartDate", "EndDate", "ActualCost"],
            Table::CampaignMembers => &[
                "Id",
                "CampaignId",
                "LeadId",
                "ContactId",
                "CreatedDate",
                "HasResponded",
                "FirstRespondedDate",
            ],
            Table::MarketingSpend => &[
                "Month",
                "Channel",
                "ProgramSpend",
                "Salaries",
                "Tools",
                "Other",
            ],
            Table::CapacityRoles => &[
                "Role",
                "Function",
                "Headcount",
                "HoursPerWeek",
                "Utilization",
            ],
            Table::CapacityActivities => &["Role", "Activity", "Unit", "ProductType", "Hours"],
            Table::UsageEvents => &["AccountId", "Event", "OccurredAt"],
        }
    }
}

/// A row being built: field bytes back to back plus the end offset of each field. Reused for
/// every row, so formatting allocates nothing in steady state.
#[derive(Default)]
pub struct Row {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl Row {
    fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }

    fn end_field(&mut self) -> &mut Self {
        self.ends.push(self.buf.len());
        self
    }

    fn fields(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let field = &self.buf[start..end];
            start = end;
            field
        })
    }

    /// An empty field (NULL).
    pub fn null(&mut self) -> &mut Self {
        self.end_field()
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.buf.extend_from_slice(s.as_bytes());
        self.end_field()
    }

    pub fn opt_str(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.str(s),
            None => self.null(),
        }
    }

    pub fn id(&mut self, id: &SfId) -> &mut Self {
        self.buf.extend_from_slice(id.as_bytes());
        self.end_field()
    }

    pub fn opt_id(&mut self, id: Option<&SfId>) -> &mut Self {
        match id {
            Some(id) => self.id(id),
            None => self.null(),
        }
    }

    pub fn int(&mut self, v: i64) -> &mut Self {
        calendar::push_int(&mut self.buf, v);
        self.end_field()
    }

    pub fn opt_int(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }

    /// A fixed-point decimal: `scaled / 10^decimals`, written with exactly `decimals` digits
    /// after the point (money: cents with 2).
    pub fn fixed(&mut self, scaled: i64, decimals: u32) -> &mut Self {
        let unit = 10i64.pow(decimals);
        if scaled < 0 {
            self.buf.push(b'-');
        }
        let abs = scaled.unsigned_abs();
        calendar::push_int(&mut self.buf, (abs / unit.unsigned_abs()) as i64);
        if decimals > 0 {
            self.buf.push(b'.');
            let frac = (abs % unit.unsigned_abs()) as i64;
            calendar::push_padded(&mut self.buf, frac, decimals as usize);
        }
        self.end_field()
    }

    /// Money from cents: whole amounts without decimals (`45200`), others with two
    /// (`1234.50`).
    pub fn money(&mut self, cents: i64) -> &mut Self {
        if cents % 100 == 0 {
            self.int(cents / 100)
        } else {
            self.fixed(cents, 2)
        }
    }

    pub fn opt_money(&mut self, cents: Option<i64>) -> &mut Self {
        match cents {
            Some(c) => self.money(c),
            None => self.null(),
        }
    }

    pub fn boolean(&mut self, b: bool) -> &mut Self {
        self.str(if b { "true" } else { "false" })
    }

    pub fn date(&mut self, day: Day) -> &mut Self {
        calendar::push_date(&mut self.buf, day);
        self.end_field()
    }

    pub fn opt_date(&mut self, day: Option<Day>) -> &mut Self {
        match day {
            Some(d) => self.date(d),
            None => self.null(),
        }
    }

    /// Salesforce-style timestamp.
    pub fn ts(&mut self, ts: Ts) -> &mut Self {
        calendar::push_ts_salesforce(&mut self.buf, ts);
        self.end_field()
    }

    pub fn opt_ts(&mut self, ts: Option<Ts>) -> &mut Self {
        match ts {
            Some(t) => self.ts(t),
            None => self.null(),
        }
    }

    /// ISO 8601 timestamp with `Z` (product telemetry, not a Salesforce export).
    pub fn ts_iso(&mut self, ts: Ts) -> &mut Self {
        calendar::push_ts_iso(&mut self.buf, ts);
        self.end_field()
    }
}

/// A file as written: plain, or gzip-compressed (`--gzip`, as `sample_data/` is shipped).
enum Target {
    Plain(File),
    Gzip(Box<flate2::write::GzEncoder<File>>),
}

impl Write for Target {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Target::Plain(f) => f.write(buf),
            Target::Gzip(g) => g.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Target::Plain(f) => f.flush(),
            Target::Gzip(g) => g.flush(),
        }
    }
}

impl Target {
    /// Writes what is left (the gzip trailer) and closes the file.
    fn finish(self) -> std::io::Result<()> {
        match self {
            Target::Plain(mut f) => f.flush(),
            Target::Gzip(g) => (*g).finish().map(drop),
        }
    }
}

struct Sink {
    path: PathBuf,
    writer: csv::Writer<Target>,
    rows: u64,
}

/// Open writers for all twelve files.
pub struct Out {
    sinks: Vec<Sink>,
    row: Row,
}

/// Bytes buffered per file before a write to disk.
const BUFFER: usize = 1 << 20;

impl Out {
    /// Creates (truncates) every file in `dir` and writes the header rows; with `gzip`, the
    /// files are `<name>.csv.gz` (deterministic bytes: no name or time in the gzip header).
    pub fn create(dir: &Path, gzip: bool) -> Result<Out, SampleError> {
        let mut sinks = Vec::with_capacity(Table::ALL.len());
        for table in Table::ALL {
            let name = if gzip {
                format!("{}.gz", table.file_name())
            } else {
                table.file_name().to_string()
            };
            let path = dir.join(name);
            let file = File::create(&path).map_err(|source| SampleError::Io {
                path: path.clone(),
                source,
            })?;
            let target = if gzip {
                Target::Gzip(Box::new(
                    flate2::GzBuilder::new()
                        .mtime(0)
                        .write(file, flate2::Compression::best()),
                ))
            } else {
                Target::Plain(file)
            };
            let mut writer = csv::WriterBuilder::new()
                .buffer_capacity(BUFFER)
                .from_writer(target);
            writer
                .write_record(table.columns())
                .map_err(|source| SampleError::Csv {
                    path: path.clone(),
                    source,
                })?;
            sinks.push(Sink {
                path,
                writer,
                rows: 0,
            });
        }
        Ok(Out {
            sinks,
            row: Row::default(),
        })
    }

    /// Builds one row with `fill` and writes it to `table`. A row with the wrong number of
    /// fields is refused by the CSV writer (an error, not a malformed file).
    pub fn emit(&mut self, table: Table, fill: impl FnOnce(&mut Row)) -> Result<(), SampleError> {
        self.row.clear();
        fill(&mut self.row);
        let sink = &mut self.sinks[table as usize];
        sink.writer
            .write_record(self.row.fields())
            .map_err(|source| SampleError::Csv {
                path: sink.path.clone(),
                source,
            })?;
        sink.rows += 1;
        Ok(())
    }

    /// Flushes every file; returns (file name, data rows) in `Table::ALL` order.
    pub fn finish(self) -> Result<Vec<(String, u64)>, SampleError> {
        let mut files = Vec::with_capacity(self.sinks.len());
        for (table, sink) in Table::ALL.into_iter().zip(self.sinks) {
            let io = |source| SampleError::Io {
                path: sink.path.clone(),
                source,
            };
            let target = sink.writer.into_inner().map_err(|e| io(e.into_error()))?;
            target.finish().map_err(io)?;
            let name = sink
                .path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| table.file_name().to_string());
            files.push((name, sink.rows));
        }
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_formats() {
        let mut r = Row::default();
        r.money(4_520_000)
            .money(4_520_010)
            .money(5)
            .money(-1234)
            .fixed(7, 1)
            .fixed(12, 0)
            .boolean(true)
            .null()
            .str("a,b");
        let fields: Vec<String> = r
            .fields()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        assert_eq!(
            fields,
            ["45200", "45200.10", "0.05", "-12.34", "0.7", "12", "true", "", "a,b"]
        );
    }

    #[test]
    fn tables_are_in_summary_order() {
        for (i, t) in Table::ALL.iter().enumerate() {
            assert_eq!(*t as usize, i);
        }
    }
}
