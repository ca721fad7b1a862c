//! End-to-end checks of the generator on small sizes: shape, determinism, referential
//! integrity, stage logic and the "nothing after the end date" rule.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::*;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "beacon-sample-{}-{name}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

type Rows = Vec<BTreeMap<String, String>>;
type TestResult = Result<(), Box<dyn std::error::Error>>;

fn read(dir: &Path, file: &str) -> Result<(Vec<String>, Rows), Box<dyn std::error::Error>> {
    let mut reader = csv::Reader::from_path(dir.join(file))?;
    let headers: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record?;
        rows.push(
            headers
                .iter()
                .cloned()
                .zip(record.iter().map(str::to_string))
                .collect(),
        );
    }
    Ok((headers, rows))
}

fn opts(leads: u64, seed: u64) -> SampleOptions {
    SampleOptions::new(leads, seed)
}

#[test]
fn zero_leads_writes_header_only_files() -> TestResult {
    let dir = TempDir::new("zero");
    let summary = generate(&opts(0, 1), &dir.0.join("nested"))?;
    assert_eq!(summary.files.len(), 12);
    for (i, (name, rows)) in summary.files.iter().enumerate() {
        assert_eq!(*rows, 0, "{name}");
        let (headers, data) = read(&dir.0.join("nested"), name)?;
        assert_eq!(headers, writer::Table::ALL[i].columns());
        assert!(data.is_empty());
    }
    Ok(())
}

#[test]
fn invalid_options_are_refused() {
    let dir = TempDir::new("invalid");
    let mut o = opts(SampleOptions::MAX_LEADS + 1, 1);
    assert!(matches!(
        generate(&o, &dir.0),
        Err(SampleError::InvalidOptions(_))
    ));
    o.leads = 1;
    o.end_date = NaiveDate::from_ymd_opt(1200, 1, 1).unwrap_or_default();
    assert!(matches!(
        generate(&o, &dir.0),
        Err(SampleError::InvalidOptions(_))
    ));
}

#[test]
fn output_is_deterministic() -> TestResult {
    let a = TempDir::new("det-a");
    let b = TempDir::new("det-b");
    let c = TempDir::new("det-c");
    let sa = generate(&opts(300, 9), &a.0)?;
    let sb = generate(&opts(300, 9), &b.0)?;
    generate(&opts(300, 10), &c.0)?;
    assert_eq!(sa, sb);
    for (name, _) in &sa.files {
        let fa = std::fs::read(a.0.join(name))?;
        let fb = std::fs::read(b.0.join(name))?;
        assert!(fa == fb, "{name} differs between identical runs");
    }
    let la = std::fs::read(a.0.join("leads.csv"))?;
    let lc = std::fs::read(c.0.join("leads.csv"))?;
    assert_ne!(la, lc);
    Ok(())
}

fn bool_of(s: &str) -> bool {
    s == "true"
}

#[test]
fn data_is_consistent() -> TestResult {
    let dir = TempDir::new("consistent");
    let o = opts(3000, 42);
    let summary = generate(&o, &dir.0)?;
    let count = |name: &str| {
        summary
            .files
            .iter()
            .find(|f| f.0 == name)
            .map_or(0, |f| f.1)
    };
    assert_eq!(count("leads.csv"), 3000);
    for (name, rows) in &summary.files {
        assert!(*rows > 0, "{name} is empty");
        let (headers, data) = read(&dir.0, name)?;
        assert_eq!(data.len() as u64, *rows, "{name}");
        let table = writer::Table::ALL.iter().find(|t| t.file_name() == name);
        assert_eq!(
            Some(headers.as_slice()),
            table
                .map(|t| t.columns())
                .map(|c| c.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .as_deref()
        );
    }

    let end = "2026-11-15";
    // Timestamps and dates compare as text in these fixed-width formats.
    let after_end = |v: &str| !v.is_empty() && &v[..10] > end;

    let (_, accounts) = read(&dir.0, "accounts.csv")?;
    let (_, contacts) = read(&dir.0, "contacts.csv")?;
    let (_, leads) = read(&dir.0, "leads.csv")?;
    let (_, opps) = read(&dir.0, "opportunities.csv")?;
    let (_, history) = read(&dir.0, "opportunity_history.csv")?;
    let (_, campaigns) = read(&dir.0, "campaigns.csv")?;
    let (_, members) = read(&dir.0, "campaign_members.csv")?;
    let (_, answers) = read(&dir.0, "lead_qualification.csv")?;
    let (_, usage) = read(&dir.0, "usage_events.csv")?;

    let ids = |rows: &Rows, col: &str| -> BTreeSet<String> {
        rows.iter().map(|r| r[col].clone()).collect()
    };
    let account_ids = ids(&accounts, "Id");
    let contact_ids = ids(&contacts, "Id");
    let lead_ids = ids(&leads, "Id");
    let opp_ids = ids(&opps, "Id");
    let campaign_ids = ids(&campaigns, "Id");
    assert_eq!(account_ids.len(), accounts.len());
    assert_eq!(lead_ids.len(), leads.len());
    assert_eq!(opp_ids.len(), opps.len());
    assert_eq!(ids(&history, "Id").len(), history.len());
    assert_eq!(ids(&members, "Id").len(), members.len());
    for id in lead_ids.iter().chain(&opp_ids).chain(&account_ids) {
        assert_eq!(id.len(), 18);
    }

    let mut statuses = BTreeSet::new();
    let mut converted = 0;
    for l in &leads {
        statuses.insert(l["Status"].clone());
        assert!(!after_end(&l["CreatedDate"]));
        assert!(!after_end(&l["MQL_Date__c"]) && !after_end(&l["SQL_Date__c"]));
        if !l["SQL_Date__c"].is_empty() {
            assert!(!l["MQL_Date__c"].is_empty() && l["SQL_Date__c"] >= l["MQL_Date__c"]);
        }
        if !l["MQL_Date__c"].is_empty() {
            assert!(l["MQL_Date__c"] >= l["CreatedDate"]);
        }
        if bool_of(&l["IsConverted"]) {
            converted += 1;
            assert_eq!(l["Status"], "Converted");
            assert!(account_ids.contains(&l["ConvertedAccountId"]));
            assert!(contact_ids.contains(&l["ConvertedContactId"]));
            assert!(opp_ids.contains(&l["ConvertedOpportunityId"]));
            assert!(!l["SQL_Date__c"].is_empty());
            assert!(l["ConvertedDate"].as_str() >= &l["SQL_Date__c"][..10]);
        } else {
            assert_ne!(l["Status"], "Converted");
            assert!(l["ConvertedOpportunityId"].is_empty());
        }
    }
    assert!(converted > 50, "{converted}");
    let expected: BTreeSet<String> = [
        "Converted",
        "Disqualified",
        "MQL",
        "Nurture",
        "Open",
        "SQL",
        "Working",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(statuses, expected);

    for c in &contacts {
        assert!(account_ids.contains(&c["AccountId"]));
    }

    let mut by_opp: BTreeMap<String, Vec<&BTreeMap<String, String>>> = BTreeMap::new();
    for h in &history {
        assert!(opp_ids.contains(&h["OpportunityId"]));
        assert!(!after_end(&h["CreatedDate"]));
        by_opp
            .entry(h["OpportunityId"].clone())
            .or_default()
            .push(h);
    }
    let mut types = BTreeMap::new();
    let mut open = 0;
    let mut reentries = 0;
    for o in &opps {
        assert!(account_ids.contains(&o["AccountId"]));
        assert!(!after_end(&o["CreatedDate"]));
        *types.entry(o["Type"].clone()).or_insert(0) += 1;
        let closed = bool_of(&o["IsClosed"]);
        let won = bool_of(&o["IsWon"]);
        assert!(!won || closed);
        assert_eq!(won, o["StageName"] == "Closed Won");
        assert_eq!(closed, o["StageName"].starts_with("Closed"));
        assert_eq!(won, !o["Contract_Start__c"].is_empty());
        if closed {
            assert!(!after_end(&o["CloseDate"]));
            assert!(o["CloseDate"].as_str() >= &o["CreatedDate"][..10]);
        } else {
            open += 1;
            assert!(
                after_end(&o["CloseDate"]),
                "open opportunity expected to close later"
            );
        }
        if won {
            assert!(!after_end(&o["Contract_Start__c"]));
            assert!(o["Contract_End__c"] > o["Contract_Start__c"]);
        }
        let h = by_opp
            .get(&o["Id"])
            .ok_or("an opportunity without history")?;
        assert_eq!(h[0]["StageName"], "Qualification");
        assert_eq!(h[0]["CreatedDate"], o["CreatedDate"]);
        let last = h[h.len() - 1];
        assert_eq!(last["StageName"], o["StageName"]);
        assert_eq!(last["CloseDate"], o["CloseDate"]);
        assert_eq!(last["Amount"], o["Amount"]);
        for w in h.windows(2) {
            assert!(w[0]["CreatedDate"] <= w[1]["CreatedDate"]);
        }
        let stages: Vec<&str> = h.iter().map(|r| r["StageName"].as_str()).collect();
        if stages.iter().filter(|s| **s == "Needs Analysis").count() > 1 {
            reentries += 1;
        }
        assert!(o["LeadSource"].len() > 2 && o["OwnerId"].starts_with("005"));
    }
    assert!(open > 0 && reentries > 0, "{open} {reentries}");
    for t in ["New Business", "Renewal", "Expansion"] {
        assert!(types.get(t).copied().unwrap_or(0) > 0, "no {t}");
    }

    for m in &members {
        assert!(campaign_ids.contains(&m["CampaignId"]));
        assert!(m["LeadId"].is_empty() || lead_ids.contains(&m["LeadId"]));
        assert!(!m["LeadId"].is_empty() || contact_ids.contains(&m["ContactId"]));
        assert!(!after_end(&m["CreatedDate"]) && !after_end(&m["FirstRespondedDate"]));
        assert_eq!(
            bool_of(&m["HasResponded"]),
            !m["FirstRespondedDate"].is_empty()
        );
    }
    for c in &campaigns {
        assert!(!after_end(&c["StartDate"]) && !after_end(&c["EndDate"]));
    }
    for a in &answers {
        assert!(lead_ids.contains(&a["LeadId"]));
        assert!(!after_end(&a["CapturedAt"]));
    }
    for u in &usage {
        assert!(account_ids.contains(&u["AccountId"]));
        assert!(!after_end(&u["OccurredAt"]));
    }
    Ok(())
}

#[test]
fn default_end_date_matches_its_text() {
    assert_eq!(
        SampleOptions::DEFAULT_END_DATE.parse::<NaiveDate>().ok(),
        Some(SampleOptions::default_end_date())
    );
}

/// The documented effects show up in the data: better-fit personas and channels convert
/// more often, and BANT Need tracks conversion.
#[test]
fn conversion_signal_is_present() -> TestResult {
    let dir = TempDir::new("signal");
    generate(&opts(4000, 5), &dir.0)?;
    let (_, leads) = read(&dir.0, "leads.csv")?;
    let (_, answers) = read(&dir.0, "lead_qualification.csv")?;
    let rate = |keep: &dyn Fn(&BTreeMap<String, String>) -> bool| {
        let group: Vec<_> = leads.iter().filter(|l| keep(l)).collect();
        let won = group.iter().filter(|l| bool_of(&l["IsConverted"])).count();
        won as f64 / group.len().max(1) as f64
    };
    let leader = rate(&|l| l["Title"].starts_with("Head of Data") || l["Title"] == "VP Data");
    let other = rate(&|l| ["Student", "Recruiter", "Intern"].contains(&l["Title"].as_str()));
    assert!(leader > 3.0 * other, "{leader} {other}");
    let referral = rate(&|l| l["LeadSource"] == "Referral");
    let paid = rate(&|l| l["LeadSource"] == "Paid Search");
    assert!(referral > 1.5 * paid, "{referral} {paid}");
    let latest: BTreeMap<&str, &str> = answers
        .iter()
        .map(|a| (a["LeadId"].as_str(), a["Need"].as_str()))
        .collect(); // rows are written oldest first, so the last one per lead wins
    let need_rate = |need: &str| rate(&|l| latest.get(l["Id"].as_str()) == Some(&need));
    assert!(need_rate("critical") > 3.0 * need_rate("low"));
    Ok(())
}
