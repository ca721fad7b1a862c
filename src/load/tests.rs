//! Tests of the load stage on a local object store in a temporary folder, reading the written
//! Parquet back with the parquet crate.

use std::path::PathBuf;
use std::sync::Arc;

use ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use arrow::array::{Array, AsArray, RecordBatch, RecordBatchReader};
use arrow::compute::concat_batches;
use arrow::datatypes::{
    DataType, Date32Type, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::ObjectStore;

use super::*;
use crate::contract::{ColumnContract, ColumnType, SourceContract};

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Env {
    dir: tempfile::TempDir,
    store: Arc<dyn ObjectStore>,
}

impl Env {
    fn new() -> Result<Env, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(dir.path())?);
        Ok(Env { dir, store })
    }

    fn put(&self, name: &str, bytes: &[u8]) -> Result<InputFile, Box<dyn std::error::Error>> {
        let p = self.dir.path().join("in").join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&p, bytes)?;
        Ok(self.input(name))
    }

    fn input(&self, name: &str) -> InputFile {
        InputFile {
            store: self.store.clone(),
            path: Path::from(format!("in/{name}")),
            display: format!("file:///in/{name}"),
        }
    }

    fn target(&self) -> RawTarget {
        RawTarget {
            store: self.store.clone(),
            data_prefix: Path::from("raw/leads/run_date=2026-11-22"),
            quarantine_prefix: Path::from("raw/_quarantine/leads/run_date=2026-11-22"),
        }
    }

    fn local(&self, p: &Path) -> PathBuf {
        self.dir.path().join(p.as_ref())
    }

    /// All rows of one Parquet file, as one batch.
    fn read(&self, p: &Path) -> Result<RecordBatch, Box<dyn std::error::Error>> {
        let file = std::fs::File::open(self.local(p))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
        let schema = reader.schema();
        let batches = reader.collect::<Result<Vec<_>, _>>()?;
        Ok(concat_batches(&schema, &batches)?)
    }

    async fn load(
        &self,
        c: &SourceContract,
        inputs: &[InputFile],
    ) -> Result<LoadReport, LoadError> {
        load_source(c, inputs, &self.target(), &LoadOptions::default()).await
    }
}

fn col<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a Arc<dyn Array>, String> {
    b.column_by_name(name)
        .ok_or_else(|| format!("no column {name}"))
}

fn strings(b: &RecordBatch, name: &str) -> Result<Vec<Option<String>>, String> {
    let c = col(b, name)?;
    let a = c
        .as_string_opt::<i32>()
        .ok_or_else(|| format!("{name} is not Utf8"))?;
    Ok(a.iter().map(|v| v.map(str::to_string)).collect())
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn leads_contract() -> SourceContract {
    let mut c = SourceContract::new(
        "leads",
        vec![
            ColumnContract::new("Id", ColumnType::String).required(),
            ColumnContract::new("CreatedDate", ColumnType::Timestamp).required(),
            ColumnContract::new("Status", ColumnType::String).with_allowed_values([
                "Open",
                "Working",
                "MQL",
                "SQL",
                "Converted",
            ]),
            ColumnContract::new("AnnualRevenue", ColumnType::Decimal),
            ColumnContract::new("NumberOfEmployees", ColumnType::Integer),
            ColumnContract::new("IsConverted", ColumnType::Boolean),
            ColumnContract::new("ConvertedDate", ColumnType::Date),
        ],
    );
    c.primary_key = vec!["Id".to_string()];
    c.max_rejected_share = 0.5;
    c
}

const MICROS_2026_03_04_10_15: i64 = 1_772_619_300_000_000;
const DAYS_2026_03_04: i32 = 20_516;

#[tokio::test]
async fn csv_types_bom_crlf_salesforce_formats_and_nulls() -> TestResult {
    let env = Env::new()?;
    let text = "\u{feff}Id,CreatedDate,Status,AnnualRevenue,NumberOfEmployees,IsConverted,ConvertedDate\r\n\
        L1,2026-03-04T10:15:00.000+0000,open,1500.5,12,TRUE,2026-03-04\r\n\
        L2,2026-03-04 10:15:00,MQL,,12.0,FALSE,2026-03-04 00:00:00\r\n\
        L3,2026-03-04T12:15:00+02:00,,-2e3,,1,\r\n\
        L4,2026-03-04,Working, 7 ,0,0,2026-03-04T23:30:00-05:00\r\n";
    let input = env.put("leads.csv", text.as_bytes())?;
    let report = env.load(&leads_contract(), &[input]).await?;
    assert_eq!(
        (report.rows_read, report.rows_loaded, report.rows_rejected),
        (4, 4, 0)
    );
    assert_eq!(report.quarantine_file, None);
    assert_eq!(report.raw_files.len(), 1);
    assert_eq!(
        report.raw_files[0].as_ref(),
        "raw/leads/run_date=2026-11-22/part-00000-000.parquet"
    );
    let b = env.read(&report.raw_files[0])?;
    assert_eq!(b.num_columns(), 7);
    assert_eq!(
        b.schema().field(0).name(),
        "Id",
        "the BOM is not part of the first name"
    );
    assert_eq!(strings(&b, "Id")?, vec![s("L1"), s("L2"), s("L3"), s("L4")]);
    let ts = col(&b, "CreatedDate")?.as_primitive::<TimestampMicrosecondType>();
    assert_eq!(
        ts.data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, None)
    );
    assert_eq!(ts.value(0), MICROS_2026_03_04_10_15);
    assert_eq!(ts.value(1), MICROS_2026_03_04_10_15);
    assert_eq!(ts.value(2), MICROS_2026_03_04_10_15);
    assert_eq!(
        ts.value(3),
        MICROS_2026_03_04_10_15 - (10 * 3600 + 15 * 60) * 1_000_000
    );
    assert_eq!(
        strings(&b, "Status")?,
        vec![s("Open"), s("MQL"), None, s("Working")],
        "enum values in the contract's spelling; empty = NULL"
    );
    let rev = col(&b, "AnnualRevenue")?.as_primitive::<Float64Type>();
    assert_eq!(
        (rev.value(0), rev.is_null(1), rev.value(2), rev.value(3)),
        (1500.5, true, -2000.0, 7.0)
    );
    let emp = col(&b, "NumberOfEmployees")?.as_primitive::<Int64Type>();
    assert_eq!(
        (emp.value(0), emp.value(1), emp.is_null(2), emp.value(3)),
        (12, 12, true, 0)
    );
    let conv = col(&b, "IsConverted")?.as_boolean();
    assert_eq!(
        conv.iter().collect::<Vec<_>>(),
        vec![Some(true), Some(false), Some(true), Some(false)]
    );
    let d = col(&b, "ConvertedDate")?.as_primitive::<Date32Type>();
    assert_eq!(
        d.iter().collect::<Vec<_>>(),
        vec![
            Some(DAYS_2026_03_04),
            Some(DAYS_2026_03_04),
            None,
            Some(DAYS_2026_03_04 + 1)
        ]
    );
    // Statistics and compression as promised.
    let file = std::fs::File::open(env.local(&report.raw_files[0]))?;
    let meta = ParquetRecordBatchReaderBuilder::try_new(file)?
        .metadata()
        .clone();
    let cc = meta.row_group(0).column(0);
    assert_eq!(
        cc.compression(),
        ::parquet::basic::Compression::ZSTD(Default::default())
    );
    assert!(cc.statistics().is_some());
    Ok(())
}

#[tokio::test]
async fn quoted_newlines_keep_line_numbers_right() -> TestResult {
    let env = Env::new()?;
    let text = "\"Id\",\"CreatedDate\",\"Status\"\n\
        \"L1\",\"2026-03-04\",\"Open\"\n\
        \"L2\",\"2026-03-04\",\"Op\nen\"\n\
        \"L3\",\"2026-03-04\",\"Open\"\n\
        \"L4\",\"not a date\",\"Open\"\n\
        \"L5\",\"2026-03-04\",\"say \"\"hi\"\"\"\n";
    let input = env.put("leads.csv", text.as_bytes())?;
    let mut c = leads_contract();
    c.columns[2].allowed_values = None;
    let report = env.load(&c, &[input]).await?;
    assert_eq!(
        (report.rows_read, report.rows_loaded, report.rows_rejected),
        (5, 4, 1)
    );
    let r = &report.rejection_sample[0];
    assert_eq!(
        r.line, 6,
        "L4 starts on physical line 6 (the quoted line break adds one)"
    );
    assert_eq!(r.column.as_deref(), Some("CreatedDate"));
    assert_eq!(r.value.as_deref(), Some("not a date"));
    let b = env.read(&report.raw_files[0])?;
    assert_eq!(
        strings(&b, "Status")?,
        vec![s("Open"), s("Op\nen"), s("Open"), s("say \"hi\"")]
    );
    Ok(())
}

#[tokio::test]
async fn crlf_line_numbers_blank_lines_and_trailing_cr() -> TestResult {
    let env = Env::new()?;
    let text = "Id,CreatedDate,Note\r\nL1,2026-03-04,a\r\n\r\nL2,2026-03-04,\"x\r\ny\"\r\nL3,bad,c\r\nL4,2026-03-04,\"q\"\r\nL5,2026-03-04,";
    let input = env.put("a.csv", text.as_bytes())?;
    let report = env.load(&leads_contract(), &[input]).await?;
    assert_eq!(
        (report.rows_read, report.rows_loaded, report.rows_rejected),
        (5, 4, 1)
    );
    assert_eq!(
        report.rejection_sample[0].line, 6,
        "blank line 3 and the quoted CRLF are counted"
    );
    let b = env.read(&report.raw_files[0])?;
    assert_eq!(
        strings(&b, "Note")?,
        vec![s("a"), s("x\r\ny"), s("q"), None]
    );
    Ok(())
}

#[tokio::test]
async fn missing_required_column_names_file_and_column() -> TestResult {
    let env = Env::new()?;
    let good = env.put("a.csv", b"Id,CreatedDate\nL1,2026-03-04\n")?;
    let bad = env.put("b.csv", b"Id,Created Date,Status\nL2,2026-03-04,Open\n")?;
    let err = env
        .load(&leads_contract(), &[good, bad])
        .await
        .err()
        .ok_or("should fail")?;
    let msg = err.to_string();
    assert!(matches!(err, LoadError::MissingColumn { ref column, .. } if column == "CreatedDate"));
    assert_eq!(
        msg,
        "file:///in/b.csv: required column `CreatedDate` is missing (found: Id, Created Date, Status); did you mean `Created Date`?"
    );
    // The raw file already written for a.csv was removed again.
    assert!(!env
        .dir
        .path()
        .join("raw/leads/run_date=2026-11-22/part-00000-000.parquet")
        .exists());
    Ok(())
}

#[tokio::test]
async fn malformed_rows_go_to_quarantine_with_line_column_reason() -> TestResult {
    let env = Env::new()?;
    let text = "Id,CreatedDate,Status,AnnualRevenue,NumberOfEmployees,IsConverted\n\
        L1,2026-03-04,Open,10,1,true\n\
        L2,2026-03-04,Open,\"$1,000\",1,true\n\
        L3,2026-03-04,Lost,10,1,true\n\
        L4,,Open,10,1,true\n\
        L5,2026-03-04,Open,10\n\
        L6,2026-03-04,Open,10,1.5,true\n\
        L7,2026-03-04,Open,10,1,maybe\n\
        L8,2026-03-04,Open,10,1,true,extra\n\
        L9,2026-03-04,Open,10,1,false\n";
    let input = env.put("leads.csv", text.as_bytes())?;
    let mut c = leads_contract();
    c.max_rejected_share = 1.0;
    let report = env.load(&c, &[input]).await?;
    assert_eq!(
        (report.rows_read, report.rows_loaded, report.rows_rejected),
        (9, 2, 7)
    );
    let q = report.quarantine_file.clone().ok_or("no quarantine")?;
    assert_eq!(
        q.as_ref(),
        "raw/_quarantine/leads/run_date=2026-11-22/part-00000.parquet"
    );
    let b = env.read(&q)?;
    assert_eq!(b.schema(), quarantine_schema());
    let lines: Vec<i64> = col(&b, "line")?
        .as_primitive::<Int64Type>()
        .values()
        .to_vec();
    assert_eq!(lines, vec![3, 4, 5, 6, 7, 8, 9]);
    assert_eq!(
        strings(&b, "column")?,
        vec![
            s("AnnualRevenue"),
            s("Status"),
            s("CreatedDate"),
            None,
            s("NumberOfEmployees"),
            s("IsConverted"),
            None
        ]
    );
    assert_eq!(
        strings(&b, "value")?,
        vec![
            s("$1,000"),
            s("Lost"),
            None,
            None,
            s("1.5"),
            s("maybe"),
            None
        ]
    );
    let reasons = strings(&b, "reason")?;
    let reasons: Vec<&str> = reasons.iter().map(|r| r.as_deref().unwrap_or("")).collect();
    assert!(
        reasons[0].contains("not a decimal number"),
        "{}",
        reasons[0]
    );
    assert_eq!(
        reasons[1],
        "value not allowed (expected one of: Open, Working, MQL, SQL, Converted)"
    );
    assert_eq!(reasons[2], "missing required value");
    assert_eq!(reasons[3], "row has 4 fields, header has 6");
    assert_eq!(reasons[4], "not an integer (has a fractional part)");
    assert!(reasons[5].starts_with("not a boolean"));
    assert_eq!(reasons[6], "row has 7 fields, header has 6");
    assert_eq!(
        strings(&b, "record")?[0],
        s("L2,2026-03-04,Open,\"$1,000\",1,true")
    );
    assert_eq!(strings(&b, "file")?[0], s("file:///in/leads.csv"));
    assert_eq!(strings(&b, "source")?[0], s("leads"));
    let raw = env.read(&report.raw_files[0])?;
    assert_eq!(strings(&raw, "Id")?, vec![s("L1"), s("L9")]);
    assert_eq!(report.rejection_sample.len(), 7);
    Ok(())
}

#[tokio::test]
async fn duplicate_primary_keys_keep_the_first_across_files() -> TestResult {
    let env = Env::new()?;
    let a = env.put(
        "a.csv",
        b"Id,CreatedDate\nL1,2026-03-04\nL2,2026-03-04\nL1,2026-03-05\n",
    )?;
    let b = env.put("b.csv", b"Id,CreatedDate\n L2 ,2026-03-06\nL3,2026-03-06\n")?;
    let report = env.load(&leads_contract(), &[a, b]).await?;
    assert_eq!(
        (report.rows_read, report.rows_loaded, report.rows_rejected),
        (5, 3, 2)
    );
    let r: Vec<String> = report
        .rejection_sample
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        r,
        vec![
            "file:///in/a.csv:4: column Id: duplicate primary key Id=L1 (first seen at file:///in/a.csv:2) (value: \"L1\")",
            "file:///in/b.csv:2: column Id: duplicate primary key Id=L2 (first seen at file:///in/a.csv:3) (value: \"L2\")",
        ]
    );
    assert_eq!(report.files[0].rows_loaded, 2);
    assert_eq!(report.files[1].rows_loaded, 1);
    Ok(())
}

#[tokio::test]
async fn composite_and_typed_primary_keys() -> TestResult {
    let env = Env::new()?;
    let mut c = SourceContract::new(
        "spend",
        vec![
            ColumnContract::new("Month", ColumnType::Date),
            ColumnContract::new("Channel", ColumnType::String),
            ColumnContract::new("Seats", ColumnType::Integer),
        ],
    );
    c.primary_key = vec!["Month".into(), "Channel".into()];
    c.max_rejected_share = 1.0;
    let input = env.put(
        "spend.csv",
        b"Month,Channel,Seats\n2026-01-01,Web,1\n2026-01-01 00:00:00,Web,2\n2026-01-01,Event,3\n2026-02-01,Web,4\n,Web,5\n",
    )?;
    let report = env.load(&c, &[input]).await?;
    assert_eq!((report.rows_loaded, report.rows_rejected), (3, 2));
    assert_eq!(
        report.rejection_sample[0].reason,
        "duplicate primary key Month=2026-01-01 00:00:00, Channel=Web (first seen at file:///in/spend.csv:2)"
    );
    assert_eq!(
        report.rejection_sample[0].column.as_deref(),
        Some("Month,Channel")
    );
    assert_eq!(
        (
            report.rejection_sample[1].column.as_deref(),
            report.rejection_sample[1].reason.as_str()
        ),
        (Some("Month"), "missing required value"),
        "a NULL key component counts as a missing required value"
    );
    Ok(())
}

#[tokio::test]
async fn too_many_rejected_fails_after_writing_the_quarantine() -> TestResult {
    let env = Env::new()?;
    let input = env.put(
        "leads.csv",
        b"Id,CreatedDate,AnnualRevenue\nL1,2026-03-04,1\nL2,2026-03-04,x\nL3,2026-03-04,y\nL4,2026-03-04,2\n",
    )?;
    let mut c = leads_contract();
    c.max_rejected_share = 0.25;
    let err = env
        .load(&c, std::slice::from_ref(&input))
        .await
        .err()
        .ok_or("should fail")?;
    match &err {
        LoadError::TooManyRejected {
            rejected,
            total,
            share,
            sample,
            quarantine_file,
            ..
        } => {
            assert_eq!((*rejected, *total, *share), (2, 4, 0.5));
            assert_eq!(
                sample,
                "file:///in/leads.csv:3: column AnnualRevenue: not a decimal number"
            );
            let q = quarantine_file.clone().ok_or("no quarantine")?;
            assert_eq!(
                env.read(&q)?.num_rows(),
                2,
                "the quarantine is written even though the load fails"
            );
        }
        other => return Err(format!("unexpected error {other}").into()),
    }
    assert_eq!(
        err.to_string(),
        "source `leads`: 2 of 4 rows rejected (50.00%), above the limit of 25.00%; first: \
         file:///in/leads.csv:3: column AnnualRevenue: not a decimal number; all rejected rows are in \
         raw/_quarantine/leads/run_date=2026-11-22/part-00000.parquet"
    );
    // At exactly the threshold the load passes.
    c.max_rejected_share = 0.5;
    assert_eq!(env.load(&c, &[input]).await?.rows_rejected, 2);
    Ok(())
}

#[tokio::test]
async fn extra_columns_are_kept_as_text_and_missing_optional_are_null() -> TestResult {
    let env = Env::new()?;
    let a = env.put(
        "a.csv",
        b"Id,CreatedDate,Notes,Score__c,Notes\nL1,2026-03-04, keep  spaces ,12,second\nL2,2026-03-04,,7,\n",
    )?;
    let report = env.load(&leads_contract(), &[a]).await?;
    assert_eq!(report.schema_drift, vec!["Notes", "Score__c", "Notes_2"]);
    assert_eq!(
        report.missing_optional_columns,
        vec![
            "Status",
            "AnnualRevenue",
            "NumberOfEmployees",
            "IsConverted",
            "ConvertedDate"
        ]
    );
    let b = env.read(&report.raw_files[0])?;
    let names: Vec<&str> = b
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(
        names,
        vec![
            "Id",
            "CreatedDate",
            "Status",
            "AnnualRevenue",
            "NumberOfEmployees",
            "IsConverted",
            "ConvertedDate",
            "Notes",
            "Score__c",
            "Notes_2"
        ]
    );
    assert_eq!(strings(&b, "Notes")?, vec![s(" keep  spaces "), None]);
    assert_eq!(strings(&b, "Score__c")?, vec![s("12"), s("7")]);
    assert_eq!(strings(&b, "Notes_2")?, vec![s("second"), None]);
    let rev = col(&b, "AnnualRevenue")?;
    assert_eq!((rev.data_type(), rev.null_count()), (&DataType::Float64, 2));
    Ok(())
}

#[tokio::test]
async fn free_text_columns_carry_no_min_max_in_the_raw_zone() -> TestResult {
    let env = Env::new()?;
    let mut contract = leads_contract();
    contract
        .columns
        .push(ColumnContract::new("Company", ColumnType::String));
    let a = env.put(
        "a.csv",
        b"Id,CreatedDate,Status,Company,Notes\nL1,2026-03-04,Open,Acme,x\nL2,2026-03-05,SQL,Zeta,y\n",
    )?;
    let report = env.load(&contract, &[a]).await?;
    let file = std::fs::File::open(env.local(&report.raw_files[0]))?;
    let meta = ParquetRecordBatchReaderBuilder::try_new(file)?
        .metadata()
        .clone();
    let rg = meta.row_group(0);
    let stats = |name: &str| -> Result<bool, String> {
        rg.columns()
            .iter()
            .find(|c| c.column_path().string() == name)
            .map(|c| c.statistics().is_some())
            .ok_or(format!("no column {name}"))
    };
    // The primary key, an enum and a timestamp keep their ranges; free text and an extra
    // (schema drift) column do not.
    assert!(stats("Id")?);
    assert!(stats("Status")?);
    assert!(stats("CreatedDate")?);
    assert!(!stats("Company")?);
    assert!(!stats("Notes")?);
    assert_eq!(
        strings(&env.read(&report.raw_files[0])?, "Company")?,
        vec![s("Acme"), s("Zeta")]
    );
    Ok(())
}

#[tokio::test]
async fn header_matching_is_exact_first_then_case_insensitive() -> TestResult {
    let env = Env::new()?;
    let input = env.put("a.csv", b"id,CREATEDDATE,Id\nx,2026-03-04,L1\n")?;
    let report = env.load(&leads_contract(), &[input]).await?;
    let b = env.read(&report.raw_files[0])?;
    assert_eq!(strings(&b, "Id")?, vec![s("L1")]);
    assert_eq!(strings(&b, "id")?, vec![s("x")]);
    assert_eq!(report.schema_drift, vec!["id"]);
    Ok(())
}

#[tokio::test]
async fn null_tokens_and_invalid_utf8() -> TestResult {
    let env = Env::new()?;
    let mut c = leads_contract();
    c.null_values = vec!["000000000000000AAA".into(), "Select".into()];
    let mut text = b"Id,CreatedDate,Status,Other\nL1,2026-03-04,Select,000000000000000AAA\nL2,2026-03-04,Open,caf".to_vec();
    text.extend_from_slice(b"\xe9\nL3,2026-03-04,Open,ok\n");
    let input = env.put("a.csv", &text)?;
    let report = env.load(&c, &[input]).await?;
    assert_eq!((report.rows_loaded, report.rows_rejected), (2, 1));
    let r = &report.rejection_sample[0];
    assert_eq!(
        (r.line, r.column.as_deref(), r.reason.as_str()),
        (3, Some("Other"), "invalid UTF-8")
    );
    assert_eq!(r.value.as_deref(), Some("caf\u{fffd}"));
    let b = env.read(&report.raw_files[0])?;
    assert_eq!(strings(&b, "Status")?, vec![None, s("Open")]);
    assert_eq!(strings(&b, "Other")?, vec![None, s("ok")]);
    Ok(())
}

#[tokio::test]
async fn unterminated_quote_is_fatal() -> TestResult {
    let env = Env::new()?;
    let input = env.put(
        "a.csv",
        b"Id,CreatedDate\nL1,2026-03-04\n\"L2,2026-03-04\nL3,2026-03-04\n",
    )?;
    let err = env
        .load(&leads_contract(), &[input])
        .await
        .err()
        .ok_or("should fail")?;
    assert!(matches!(err, LoadError::Parse { line: 3, .. }), "{err}");
    assert!(err.to_string().contains("never closed"), "{err}");
    Ok(())
}

#[tokio::test]
async fn empty_and_header_only_files() -> TestResult {
    let env = Env::new()?;
    let empty = env.put("a.csv", b"")?;
    let header_only = env.put("b.csv", b"Id,CreatedDate,Extra\r\n")?;
    let report = env.load(&leads_contract(), &[empty, header_only]).await?;
    assert_eq!(report.rows_read, 0);
    assert_eq!(
        report.raw_files.len(),
        2,
        "one (empty) part per input, carrying the schema"
    );
    let a = env.read(&report.raw_files[0])?;
    assert_eq!(
        (a.num_rows(), a.schema()),
        (0, empty_batch_schema(&leads_contract()))
    );
    let b = env.read(&report.raw_files[1])?;
    assert_eq!((b.num_rows(), b.num_columns()), (0, 8));
    Ok(())
}

#[tokio::test]
async fn large_files_are_split_into_parts_and_row_groups() -> TestResult {
    let env = Env::new()?;
    let mut text = String::from("Id,CreatedDate\n");
    for i in 0..2500 {
        text.push_str(&format!("L{i},2026-03-04\n"));
    }
    let input = env.put("a.csv", text.as_bytes())?;
    let opts = LoadOptions {
        batch_rows: 300,
        row_group_rows: 500,
        max_file_rows: 1000,
    };
    let report = load_source(&leads_contract(), &[input], &env.target(), &opts).await?;
    let names: Vec<&str> = report
        .raw_files
        .iter()
        .map(|p| p.filename().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        vec![
            "part-00000-000.parquet",
            "part-00000-001.parquet",
            "part-00000-002.parquet"
        ]
    );
    let mut total = 0;
    for p in &report.raw_files {
        let file = std::fs::File::open(env.local(p))?;
        let meta = ParquetRecordBatchReaderBuilder::try_new(file)?
            .metadata()
            .clone();
        assert!(meta.row_groups().iter().all(|rg| rg.num_rows() <= 500));
        total += meta.file_metadata().num_rows();
    }
    assert_eq!(total, 2500);
    let last = env.read(&report.raw_files[2])?;
    assert_eq!(
        strings(&last, "Id")?.last().cloned().flatten().as_deref(),
        Some("L2499")
    );
    Ok(())
}

#[tokio::test]
async fn ndjson_rows_keys_and_bad_lines() -> TestResult {
    let env = Env::new()?;
    let text = "\u{feff}{\"Id\":\"L1\",\"CreatedDate\":\"2026-03-04T10:15:00Z\",\"NumberOfEmployees\":12,\"IsConverted\":true,\"AnnualRevenue\":1.5}\r\n\
        \n\
        {\"Id\":\"L2\",\"CreatedDate\":\"2026-03-04\",\"NumberOfEmployees\":12.0,\"IsConverted\":null,\"tags\":[\"a\",1]}\n\
        [1,2]\n\
        {\"Id\":\"L3\",\"CreatedDate\":\"2026-03-04\",\"NumberOfEmployees\":\"x\"}\n\
        {\"Id\":\"L4\"}\n\
        {\"Id\":\"L5\",\"CreatedDate\":\"2026-03-04\",\"status\":\"sql\"}\n";
    let input = env.put("leads.ndjson", text.as_bytes())?;
    let report = env.load(&leads_contract(), &[input]).await?;
    assert_eq!(
        (report.rows_read, report.rows_loaded, report.rows_rejected),
        (6, 3, 3)
    );
    let lines: Vec<(u64, Option<&str>)> = report
        .rejection_sample
        .iter()
        .map(|r| (r.line, r.column.as_deref()))
        .collect();
    assert_eq!(
        lines,
        vec![
            (4, None),
            (5, Some("NumberOfEmployees")),
            (6, Some("CreatedDate"))
        ]
    );
    assert!(report.rejection_sample[0]
        .reason
        .starts_with("not a JSON object"));
    assert_eq!(report.schema_drift, vec!["tags"]);
    let b = env.read(&report.raw_files[0])?;
    assert_eq!(strings(&b, "Id")?, vec![s("L1"), s("L2"), s("L5")]);
    assert_eq!(strings(&b, "tags")?, vec![None, s("[\"a\",1]"), None]);
    assert_eq!(strings(&b, "Status")?, vec![None, None, s("SQL")]);
    let emp = col(&b, "NumberOfEmployees")?.as_primitive::<Int64Type>();
    assert_eq!(
        emp.iter().collect::<Vec<_>>(),
        vec![Some(12), Some(12), None]
    );
    let ts = col(&b, "CreatedDate")?.as_primitive::<TimestampMicrosecondType>();
    assert_eq!(ts.value(0), MICROS_2026_03_04_10_15);
    let q = env.read(&report.quarantine_file.ok_or("no quarantine")?)?;
    assert_eq!(strings(&q, "record")?[0], s("[1,2]"));
    Ok(())
}

#[tokio::test]
async fn ndjson_key_first_seen_after_the_first_batch_starts_a_new_part() -> TestResult {
    let env = Env::new()?;
    let mut text = String::new();
    for i in 0..5 {
        text.push_str(&format!(
            "{{\"Id\":\"L{i}\",\"CreatedDate\":\"2026-03-04\"}}\n"
        ));
    }
    text.push_str("{\"Id\":\"L5\",\"CreatedDate\":\"2026-03-04\",\"Late\":\"x\"}\n");
    let input = env.put("leads.jsonl", text.as_bytes())?;
    let opts = LoadOptions {
        batch_rows: 2,
        ..LoadOptions::default()
    };
    let report = load_source(&leads_contract(), &[input], &env.target(), &opts).await?;
    assert_eq!(report.rows_loaded, 6);
    assert_eq!(report.raw_files.len(), 2);
    let second = env.read(&report.raw_files[1])?;
    assert_eq!(
        strings(&second, "Late")?,
        vec![None, s("x")],
        "L4 and L5 share the last batch"
    );
    assert_eq!(env.read(&report.raw_files[0])?.num_rows(), 4);
    Ok(())
}

#[tokio::test]
async fn ndjson_required_key_never_present_is_a_missing_column() -> TestResult {
    let env = Env::new()?;
    let input = env.put(
        "leads.ndjson",
        b"{\"Id\":\"L1\",\"Created_Date\":\"2026-03-04\"}\n",
    )?;
    let err = env
        .load(&leads_contract(), &[input])
        .await
        .err()
        .ok_or("should fail")?;
    assert_eq!(
        err.to_string(),
        "file:///in/leads.ndjson: required column `CreatedDate` is missing (found: Id, Created_Date); did you mean `Created_Date`?"
    );
    Ok(())
}

#[tokio::test]
async fn parquet_input_goes_through_the_same_checks() -> TestResult {
    use arrow::array::{
        ArrayRef, BooleanArray, Float64Array, Int32Array, StringArray, TimestampMillisecondArray,
    };
    let env = Env::new()?;
    let batch = RecordBatch::try_from_iter(vec![
        (
            "Id",
            Arc::new(StringArray::from(vec![
                Some("L1"),
                Some("L2"),
                Some("L3"),
                None,
            ])) as ArrayRef,
        ),
        (
            "CreatedDate",
            Arc::new(
                TimestampMillisecondArray::from(vec![
                    MICROS_2026_03_04_10_15 / 1000,
                    MICROS_2026_03_04_10_15 / 1000 + 1,
                    0,
                    0,
                ])
                .with_timezone("+02:00"),
            ) as ArrayRef,
        ),
        (
            "NumberOfEmployees",
            Arc::new(Int32Array::from(vec![Some(5), None, Some(7), Some(8)])) as ArrayRef,
        ),
        (
            "AnnualRevenue",
            Arc::new(Float64Array::from(vec![1.25, 2.0, f64::NAN, 3.0])) as ArrayRef,
        ),
        (
            "IsConverted",
            Arc::new(BooleanArray::from(vec![true, false, true, false])) as ArrayRef,
        ),
        (
            "Region",
            Arc::new(StringArray::from(vec!["EU", "US", "EU", "US"])) as ArrayRef,
        ),
    ])?;
    let path = env.dir.path().join("in/leads.parquet");
    std::fs::create_dir_all(env.dir.path().join("in"))?;
    let mut w = ::parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path)?,
        batch.schema(),
        None,
    )?;
    w.write(&batch)?;
    w.close()?;
    let report = env
        .load(&leads_contract(), &[env.input("leads.parquet")])
        .await?;
    assert_eq!(
        (report.rows_read, report.rows_loaded, report.rows_rejected),
        (4, 2, 2)
    );
    let rej: Vec<(u64, Option<&str>)> = report
        .rejection_sample
        .iter()
        .map(|r| (r.line, r.column.as_deref()))
        .collect();
    assert_eq!(rej, vec![(3, Some("AnnualRevenue")), (4, Some("Id"))]);
    let b = env.read(&report.raw_files[0])?;
    let ts = col(&b, "CreatedDate")?.as_primitive::<TimestampMicrosecondType>();
    assert_eq!(
        ts.values().to_vec(),
        vec![MICROS_2026_03_04_10_15, MICROS_2026_03_04_10_15 + 1000]
    );
    let emp = col(&b, "NumberOfEmployees")?.as_primitive::<Int64Type>();
    assert_eq!(emp.iter().collect::<Vec<_>>(), vec![Some(5), None]);
    let rev = col(&b, "AnnualRevenue")?.as_primitive::<Float64Type>();
    assert_eq!(rev.values().to_vec(), vec![1.25, 2.0]);
    assert_eq!(strings(&b, "Region")?, vec![s("EU"), s("US")]);
    assert_eq!(report.schema_drift, vec!["Region"]);
    Ok(())
}

#[tokio::test]
async fn unknown_format_and_no_input() -> TestResult {
    let env = Env::new()?;
    let input = env.put("leads.txt", b"Id\n")?;
    let err = env
        .load(&leads_contract(), std::slice::from_ref(&input))
        .await
        .err()
        .ok_or("should fail")?;
    assert!(matches!(err, LoadError::UnknownFormat { .. }), "{err}");
    let mut c = leads_contract();
    c.format = Some(crate::contract::Format::Csv);
    assert!(matches!(
        env.load(&c, &[input]).await,
        Err(LoadError::MissingColumn { .. })
    ));
    assert!(matches!(
        env.load(&c, &[]).await,
        Err(LoadError::NoInput { .. })
    ));
    let missing = env.input("nope.csv");
    let err = env.load(&c, &[missing]).await.err().ok_or("should fail")?;
    assert!(matches!(err, LoadError::Read { .. }), "{err}");
    Ok(())
}

/// The real Salesforce Data Export sample (see /work/shared/realdata/SOURCES.md).
#[tokio::test]
async fn real_salesforce_opportunity_export() -> TestResult {
    let real = std::path::Path::new("/work/shared/realdata/sfdc_devorg_sample/Opportunity.csv");
    if !real.exists() {
        eprintln!("skipped: {} is absent", real.display());
        return Ok(());
    }
    let env = Env::new()?;
    let input = env.put("Opportunity.csv", &std::fs::read(real)?)?;
    let mut c = SourceContract::new(
        "opportunities",
        vec![
            ColumnContract::new("Id", ColumnType::String).required(),
            ColumnContract::new("AccountId", ColumnType::String).required(),
            ColumnContract::new("Name", ColumnType::String),
            ColumnContract::new("CreatedDate", ColumnType::Timestamp).required(),
            ColumnContract::new("CloseDate", ColumnType::Date),
            ColumnContract::new("StageName", ColumnType::String),
            ColumnContract::new("Amount", ColumnType::Decimal),
            ColumnContract::new("IsClosed", ColumnType::Boolean),
            ColumnContract::new("IsWon", ColumnType::Boolean),
            ColumnContract::new("Type", ColumnType::String),
            ColumnContract::new("LeadSource", ColumnType::String),
            ColumnContract::new("Product_Type__c", ColumnType::String),
            ColumnContract::new("Seats__c", ColumnType::Integer),
            ColumnContract::new("Contract_Start__c", ColumnType::Date),
            ColumnContract::new("Contract_End__c", ColumnType::Date),
            ColumnContract::new("OwnerId", ColumnType::String),
        ],
    );
    c.primary_key = vec!["Id".into()];
    c.null_values = vec!["000000000000000AAA".into()];
    let report = env.load(&c, &[input]).await?;
    assert_eq!(
        (report.rows_read, report.rows_loaded, report.rows_rejected),
        (31, 31, 0)
    );
    assert_eq!(report.schema_drift.len(), 40 - 12);
    for extra in [
        "IsDeleted",
        "CampaignId",
        "Probability",
        "MainCompetitors__c",
    ] {
        assert!(report.schema_drift.iter().any(|e| e == extra), "{extra}");
    }
    assert_eq!(
        report.missing_optional_columns,
        vec![
            "Product_Type__c",
            "Seats__c",
            "Contract_Start__c",
            "Contract_End__c"
        ]
    );
    let b = env.read(&report.raw_files[0])?;
    assert_eq!(b.num_rows(), 31);
    assert_eq!(strings(&b, "Id")?[0], s("0064600000J5S5TAAV"));
    assert_eq!(
        col(&b, "CampaignId")?.null_count(),
        31,
        "the null-lookup sentinel is NULL"
    );
    let close = col(&b, "CloseDate")?.as_primitive::<Date32Type>();
    assert_eq!(
        close.value(0),
        17_765,
        "2018-08-22 00:00:00 is the date 2018-08-22"
    );
    let created = col(&b, "CreatedDate")?.as_primitive::<TimestampMicrosecondType>();
    assert_eq!(
        created.value(0),
        1_539_451_005_000_000,
        "2018-10-13 17:16:45 UTC"
    );
    let won = col(&b, "IsWon")?.as_boolean();
    assert!(!won.value(0) && won.value(2));
    let amount = col(&b, "Amount")?.as_primitive::<Float64Type>();
    assert_eq!(amount.value(0), 15000.0);
    Ok(())
}

/// Object stores other than the local disk hand out byte streams (the `SyncIoBridge` path)
/// and take multipart uploads: the same load through an in-memory store, on a multi-thread
/// runtime as in the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_from_and_to_a_non_local_store() -> TestResult {
    use object_store::memory::InMemory;
    use object_store::ObjectStoreExt;
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let mut csv = String::from("\u{feff}Id,CreatedDate,Status\r\n");
    for i in 0..20_000 {
        csv.push_str(&format!("L{i},2026-03-04T10:15:00Z,\"Op\r\nen\"\r\n"));
    }
    csv.push_str("L5,2026-03-04,Open\r\n");
    store
        .put(&Path::from("in/leads.csv"), csv.into_bytes().into())
        .await?;
    store
        .put(
            &Path::from("in/more.ndjson"),
            b"{\"Id\":\"N1\",\"CreatedDate\":\"2026-03-04\"}\n"
                .to_vec()
                .into(),
        )
        .await?;
    let inputs: Vec<InputFile> = ["in/leads.csv", "in/more.ndjson"]
        .iter()
        .map(|p| InputFile {
            store: store.clone(),
            path: Path::from(*p),
            display: format!("memory:///{p}"),
        })
        .collect();
    let target = RawTarget {
        store: store.clone(),
        data_prefix: Path::from("raw/leads"),
        quarantine_prefix: Path::from("raw/_quarantine/leads"),
    };
    let opts = LoadOptions {
        batch_rows: 1000,
        ..LoadOptions::default()
    };
    let mut c = leads_contract();
    c.columns[2].allowed_values = None;
    let report = load_source(&c, &inputs, &target, &opts).await?;
    assert_eq!(
        (report.rows_read, report.rows_loaded, report.rows_rejected),
        (20_002, 20_001, 1)
    );
    let dup = &report.rejection_sample[0];
    assert_eq!(dup.line, 2 * 20_000 + 2, "each record spans two lines");
    assert_eq!(
        dup.reason,
        "duplicate primary key Id=L5 (first seen at memory:///in/leads.csv:12)"
    );
    let bytes = store.get(&report.raw_files[0]).await?.bytes().await?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)?.build()?;
    let rows: usize = reader
        .map(|b| b.map(|b| b.num_rows()))
        .sum::<Result<usize, _>>()?;
    assert_eq!(rows, 20_000);
    assert!(report.quarantine_file.is_some());
    Ok(())
}

#[tokio::test]
async fn parquet_binary_columns_are_checked_for_utf8() -> TestResult {
    use arrow::array::{ArrayRef, BinaryArray, StringArray};
    let env = Env::new()?;
    let batch = RecordBatch::try_from_iter(vec![
        (
            "Id",
            Arc::new(StringArray::from(vec!["L1", "L2"])) as ArrayRef,
        ),
        (
            "CreatedDate",
            Arc::new(StringArray::from(vec!["2026-03-04", "2026-03-04"])) as ArrayRef,
        ),
        (
            "Notes",
            Arc::new(BinaryArray::from(vec![b"ok".as_ref(), b"caf\xe9".as_ref()])) as ArrayRef,
        ),
    ])?;
    std::fs::create_dir_all(env.dir.path().join("in"))?;
    let file = std::fs::File::create(env.dir.path().join("in/l.parquet"))?;
    let mut w = ::parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)?;
    w.write(&batch)?;
    w.close()?;
    let report = env
        .load(&leads_contract(), &[env.input("l.parquet")])
        .await?;
    assert_eq!((report.rows_loaded, report.rows_rejected), (1, 1));
    let r = &report.rejection_sample[0];
    assert_eq!(
        (r.line, r.column.as_deref(), r.reason.as_str()),
        (2, Some("Notes"), "invalid UTF-8")
    );
    assert_eq!(
        strings(&env.read(&report.raw_files[0])?, "Notes")?,
        vec![s("ok")]
    );
    Ok(())
}

/// The X Education leads (CRLF, `Select` placeholders, `Yes`/`No` booleans; see SOURCES.md).
#[tokio::test]
async fn real_x_education_leads() -> TestResult {
    let real = std::path::Path::new("/work/shared/realdata/x_education_leads/Leads.csv");
    if !real.exists() {
        eprintln!("skipped: {} is absent", real.display());
        return Ok(());
    }
    let env = Env::new()?;
    let input = env.put("Leads.csv", &std::fs::read(real)?)?;
    let mut c = SourceContract::new(
        "x_leads",
        vec![
            ColumnContract::new("Prospect ID", ColumnType::String).required(),
            ColumnContract::new("Lead Number", ColumnType::Integer).required(),
            ColumnContract::new("Do Not Email", ColumnType::Boolean),
            ColumnContract::new("Converted", ColumnType::Boolean).required(),
            ColumnContract::new("TotalVisits", ColumnType::Decimal),
            ColumnContract::new("Specialization", ColumnType::String),
            ColumnContract::new("Last Notable Activity", ColumnType::String),
        ],
    );
    c.primary_key = vec!["Prospect ID".into()];
    c.null_values = vec!["Select".into()];
    let report = env.load(&c, &[input]).await?;
    assert_eq!(
        (report.rows_read, report.rows_loaded, report.rows_rejected),
        (9240, 9240, 0)
    );
    let b = env.read(&report.raw_files[0])?;
    let converted = col(&b, "Converted")?.as_boolean();
    assert_eq!(converted.true_count(), 3561);
    assert_eq!(col(&b, "TotalVisits")?.null_count(), 137);
    assert!(
        col(&b, "Specialization")?.null_count() > 1000,
        "`Select` is NULL"
    );
    let last = strings(&b, "Last Notable Activity")?;
    assert_eq!(
        last[0],
        s("Modified"),
        "no stray \\r at the end of the last column"
    );
    Ok(())
}
