use super::*;
use crate::contract::ColumnType;

const MINIMAL: &str = "version: 1
name: t
raw: ./raw
output: ./out
models: ./sql
sources:
  leads:
    location: ./leads.csv
    primary_key: [Id]
    columns:
      Id: string required
      CreatedDate: {type: timestamp, required: true}
      Status: {type: string, values: [Open, MQL]}
";

fn parse(text: &str) -> Result<Pipeline, SpecError> {
    parse_with(text, &BTreeMap::new(), &Overrides::default())
}

fn parse_with(
    text: &str,
    env: &BTreeMap<String, String>,
    o: &Overrides,
) -> Result<Pipeline, SpecError> {
    parse_str(text, Path::new("pipelines/p.yaml"), env, o)
}

fn problems(text: &str) -> Vec<Problem> {
    match parse(text) {
        Err(SpecError::Invalid { problems, .. }) => problems,
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn minimal_pipeline_parses_with_defaults() {
    let p = parse(MINIMAL).unwrap();
    assert_eq!(p.name, "t");
    assert_eq!(p.engine, EngineSpec::Local);
    assert_eq!(p.memory_limit, None);
    assert_eq!(p.models_dir, Path::new("pipelines/sql"));
    let leads = &p.sources[0].contract;
    assert_eq!(leads.name, "leads");
    assert_eq!(leads.primary_key, vec!["Id"]);
    assert_eq!(leads.columns.len(), 3);
    assert!(leads.columns[0].required);
    assert_eq!(leads.columns[1].column_type, ColumnType::Timestamp);
    assert!(leads.columns[1].required);
    assert_eq!(
        leads.columns[2].allowed_values.as_deref(),
        Some(&["Open".to_string(), "MQL".to_string()][..])
    );
    assert!((leads.max_rejected_share - 0.01).abs() < 1e-12);
}

#[test]
fn shipped_pipeline_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/beacon.yaml");
    let p = load(&path, &Overrides::default()).unwrap();
    assert_eq!(p.sources.len(), 12);
    assert!(p
        .sources
        .iter()
        .any(|s| s.contract.name == "usage_events" && s.optional));
    assert_eq!(p.memory_limit, Some(4 * 1024 * 1024 * 1024));
    assert!(p.vars.contains_key("gross_margin"));
}

#[test]
fn unknown_key_has_location_and_suggestion() {
    let text = MINIMAL.replace("    location: ./leads.csv", "    locaton: ./leads.csv");
    let p = problems(&text);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].line, Some(8), "{p:?}");
    assert_eq!(p[0].column, Some(5), "{p:?}");
    assert_eq!(p[0].path, "sources.leads.locaton");
    assert!(
        p[0].message.contains("did you mean `location`"),
        "{}",
        p[0].message
    );
    let rendered = parse(&text).unwrap_err().to_string();
    assert!(
        rendered.starts_with("pipelines/p.yaml:8:5: sources.leads.locaton: unknown key `locaton`"),
        "{rendered}"
    );
}

#[test]
fn wrong_type_and_missing_field_are_located() {
    let p = problems(&MINIMAL.replace("version: 1", "version: one"));
    assert_eq!(p[0].line, Some(1));
    assert!(p[0].message.contains("invalid type"), "{}", p[0].message);
    let p = problems(&MINIMAL.replace("output: ./out\n", ""));
    assert!(
        p[0].message.contains("missing field `output`"),
        "{}",
        p[0].message
    );
}

#[test]
fn semantic_problems_are_all_reported_with_lines() {
    let text = MINIMAL
        .replace("primary_key: [Id]", "primary_key: [Idd]")
        .replace("Id: string required", "Id: strng required")
        .replace("Status: {type: string", "Status: {type: integer");
    let p = problems(&text);
    assert_eq!(p.len(), 3, "{p:?}");
    let text_of = |needle: &str| {
        p.iter()
            .find(|x| x.message.contains(needle))
            .unwrap_or_else(|| panic!("{needle} in {p:?}"))
    };
    let ty = text_of("unknown type `strng`");
    assert!(ty.message.contains("did you mean `string`"));
    assert_eq!(ty.line, Some(11));
    let pk = text_of("`Idd` is not a column");
    assert!(pk.message.contains("did you mean `Id`"));
    assert_eq!(pk.line, Some(9));
    let en = text_of("only allowed on string columns");
    assert_eq!(en.line, Some(13));
}

#[test]
fn env_interpolation_with_defaults_and_errors() {
    let text = MINIMAL
        .replace("output: ./out", "output: ${OUT_DIR}/x")
        .replace("raw: ./raw", "raw: ${RAW:-./default-raw}");
    let mut env = BTreeMap::new();
    env.insert("OUT_DIR".to_string(), "s3://bucket".to_string());
    let p = parse_with(&text, &env, &Overrides::default()).unwrap();
    assert_eq!(p.output, "s3://bucket/x");
    assert_eq!(p.raw, "./default-raw");
    let err = parse(&text).unwrap_err();
    let p = err.problems();
    assert_eq!(p[0].line, Some(4));
    assert!(
        p[0].message.contains("`OUT_DIR` is not set"),
        "{}",
        p[0].message
    );
}

#[test]
fn set_and_var_overrides_apply() {
    let mut o = Overrides::default();
    o.push_set("output=s3://b/out").unwrap();
    o.push_set("sources.leads.location=s3://b/in/*.csv")
        .unwrap();
    o.push_var("gross_margin=0.8").unwrap();
    o.push_var("stages=[A, B]").unwrap();
    let p = parse_with(MINIMAL, &BTreeMap::new(), &o).unwrap();
    assert_eq!(p.output, "s3://b/out");
    assert_eq!(p.sources[0].location, "s3://b/in/*.csv");
    assert_eq!(p.vars["gross_margin"], VarValue::Float(0.8));
    assert_eq!(
        p.vars["stages"],
        VarValue::List(vec![VarValue::Str("A".into()), VarValue::Str("B".into())])
    );
}

#[test]
fn bad_overrides_are_errors() {
    let mut o = Overrides::default();
    assert!(o.push_set("no-equals-sign").is_err());
    o.push_set("outputt=x").unwrap();
    let err = parse_with(MINIMAL, &BTreeMap::new(), &o)
        .unwrap_err()
        .to_string();
    assert!(err.contains("did you mean `output`"), "{err}");
}

#[test]
fn byte_sizes() {
    assert_eq!(parse_byte_size("2GiB"), Ok(2 * 1024 * 1024 * 1024));
    assert_eq!(parse_byte_size("512 MiB"), Ok(512 * 1024 * 1024));
    assert_eq!(parse_byte_size("1GB"), Ok(1_000_000_000));
    assert!(parse_byte_size("lots").is_err());
    assert!(parse_byte_size("2 parsecs").is_err());
}

#[test]
fn ballista_engine_is_parsed() {
    let p =
        parse(&MINIMAL.replace("name: t", "name: t\nengine: ballista://localhost:50050")).unwrap();
    assert_eq!(
        p.engine,
        EngineSpec::Ballista {
            url: "ballista://localhost:50050".into()
        }
    );
    let e = problems(&MINIMAL.replace("name: t", "name: t\nengine: spark"));
    assert!(e[0].message.contains("unknown engine"));
    let e = problems(&MINIMAL.replace("name: t", "name: t\nengine: ballista://"));
    assert!(
        e[0].message.contains("ballista://host:port"),
        "{}",
        e[0].message
    );
    let e = problems(&MINIMAL.replace("name: t", "name: t\nengine: ballista://scheduler"));
    assert!(
        e[0].message.contains("ballista://host:port"),
        "{}",
        e[0].message
    );
}

#[test]
fn join_strategy_and_model_concurrency_are_parsed() {
    let p = parse(MINIMAL).unwrap();
    assert_eq!(p.join_strategy, JoinStrategy::Hash);
    assert_eq!(p.model_concurrency, DEFAULT_MODEL_CONCURRENCY);
    let p = parse(&MINIMAL.replace(
        "name: t",
        "name: t\njoin_strategy: sort_merge\nmodel_concurrency: 1",
    ))
    .unwrap();
    assert_eq!(p.join_strategy, JoinStrategy::SortMerge);
    assert_eq!(p.model_concurrency, 1);
    let e = problems(&MINIMAL.replace(
        "name: t",
        "name: t\njoin_strategy: broadcast\nmodel_concurrency: 0",
    ));
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].message.contains("use `hash` or `sort_merge`"), "{e:?}");
    assert_eq!(e[0].line, Some(3), "{e:?}");
    assert!(e[1].message.contains("at least 1"), "{e:?}");
}

#[test]
fn large_run_settings_fill_only_what_the_pipeline_leaves_unset() {
    use super::{LargeRun, MemoryPoolKind};
    let p = parse(MINIMAL).unwrap();
    assert_eq!(p.large_run, LargeRun::Auto);
    let large = p.with_large_run_settings();
    assert_eq!(large.join_strategy, JoinStrategy::SortMerge);
    assert_eq!(large.memory_pool, MemoryPoolKind::Fair);
    assert_eq!(large.model_concurrency, 1);
    assert_eq!(large.batch_size, None, "batches keep DataFusion's size");
    // What the pipeline sets stays as it is.
    let p = parse(&MINIMAL.replace(
        "name: t",
        "name: t\nlarge_run: on\njoin_strategy: hash\nmodel_concurrency: 2\nbatch_size: 4096",
    ))
    .unwrap();
    assert_eq!(p.large_run, LargeRun::On);
    let large = p.with_large_run_settings();
    assert_eq!(large.join_strategy, JoinStrategy::Hash);
    assert_eq!(large.model_concurrency, 2);
    assert_eq!(large.batch_size, Some(4096));
    assert_eq!(large.memory_pool, MemoryPoolKind::Fair);
    let p = parse(&MINIMAL.replace("name: t", "name: t\nlarge_run: off")).unwrap();
    assert_eq!(p.large_run, LargeRun::Off);
    let e = problems(&MINIMAL.replace("name: t", "name: t\nlarge_run: maybe"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].message.contains("use `auto`, `on` or `off`"), "{e:?}");
    assert_eq!(e[0].line, Some(3), "{e:?}");
}

#[test]
fn storage_section_has_defaults_values_and_overrides() {
    use crate::storage::StorageOptions;
    use std::time::Duration;
    let p = parse(MINIMAL).unwrap();
    assert_eq!(p.storage, StorageOptions::default());
    assert_eq!(p.storage.request_timeout, Duration::from_secs(30));
    assert_eq!(p.storage.lock_ttl, Duration::from_secs(600));
    let text = MINIMAL.replace(
        "models: ./sql",
        "models: ./sql\nstorage:\n  request_timeout: 2s\n  max_retries: 3\n  retry_initial_backoff: 50ms\n  lock_ttl: 1m 30s",
    );
    let mut o = Overrides::default();
    o.push_set("storage.max_retries=5").unwrap();
    o.push_set("storage.operation_deadline=20s").unwrap();
    let p = parse_with(&text, &BTreeMap::new(), &o).unwrap();
    assert_eq!(p.storage.request_timeout, Duration::from_secs(2));
    assert_eq!(p.storage.max_retries, 5, "--set wins over the file");
    assert_eq!(p.storage.retry_initial_backoff, Duration::from_millis(50));
    assert_eq!(p.storage.operation_deadline, Duration::from_secs(20));
    assert_eq!(p.storage.lock_ttl, Duration::from_secs(90));
    let rc = p.storage.retry_config();
    assert_eq!(rc.max_retries, 5);
    assert_eq!(rc.retry_timeout, Duration::from_secs(20));
}

#[test]
fn storage_section_is_strict_and_located() {
    let text = MINIMAL.replace(
        "models: ./sql",
        "models: ./sql\nstorage:\n  request_timeout: soon\n  lock_ttl: 0s\n  retry_backoff_base: 0.5",
    );
    let p = problems(&text);
    let messages: Vec<String> = p
        .iter()
        .map(|p| format!("{}:{:?}: {}", p.path, p.line, p.message))
        .collect();
    assert_eq!(p.len(), 3, "{messages:?}");
    assert!(
        messages[0].starts_with("storage.request_timeout:Some(7)"),
        "{messages:?}"
    );
    assert!(
        messages[0].contains("`soon` is not a duration"),
        "{messages:?}"
    );
    assert!(messages
        .iter()
        .any(|m| m.contains("storage.lock_ttl") && m.contains("more than 0")));
    assert!(messages.iter().any(|m| m.contains("retry_backoff_base")));
    let typo = problems(&MINIMAL.replace(
        "models: ./sql",
        "models: ./sql\nstorage:\n  request_timout: 2s",
    ));
    assert!(
        typo[0].message.contains("did you mean `request_timeout`"),
        "{typo:?}"
    );
}

const CHECKS: &str = "checks:
  hot_list:
    columns:
      rank: [not_null, unique]
      account_id:
      route: [{accepted_values: [account_executive, self_service, nurture]}]
      stage: [{relationships: {to: stg_opportunities, field: stage_name}, severity: warn}]
    tests:
      - row_count: {min: 1, max: 500}
      - unique: [account_id, rank]
      - not_null: [account_id, rank]
      - expression: cumulative_ae_hours >= required_ae_hours
        severity: warn
";

#[test]
fn checks_are_read_with_severity_and_lines() {
    let p = parse(&format!("{MINIMAL}{CHECKS}")).unwrap();
    assert_eq!(p.checks.len(), 1);
    let c = &p.checks[0];
    assert_eq!(c.model, "hot_list");
    assert_eq!(c.columns, vec!["rank", "account_id", "route", "stage"]);
    let names: Vec<&str> = c.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "not_null(rank)",
            "unique(rank)",
            "accepted_values(route, 3 values)",
            "relationships(stage -> stg_opportunities.stage_name)",
            "row_count(1..500)",
            "unique(account_id, rank)",
            "not_null(account_id)",
            "not_null(rank)",
            "expression(cumulative_ae_hours >= required_ae_hours)",
        ]
    );
    assert_eq!(c.tests[3].severity, Severity::Warn);
    assert_eq!(c.tests[4].severity, Severity::Error);
    assert_eq!(c.tests[8].severity, Severity::Warn);
    // MINIMAL has 13 lines; `checks:` is line 14.
    assert_eq!(c.line, Some(15));
    assert_eq!(c.tests[0].line, Some(17), "{:?}", c.tests[0]);
    assert_eq!(c.tests[4].line, Some(22));
    assert_eq!(c.tests[8].line, Some(25));
    assert_eq!(
        c.tests[2].kind,
        TestKind::AcceptedValues {
            column: "route".into(),
            values: vec![
                VarValue::Str("account_executive".into()),
                VarValue::Str("self_service".into()),
                VarValue::Str("nurture".into())
            ]
        }
    );
}

#[test]
fn bad_checks_are_all_reported_with_lines() {
    let bad = "checks:
  hot_list:
    columns:
      rank: [not_nul]
    tests:
      - row_count: {min: 5, max: 1}
      - unique: []
      - expression: 3
      - {unique: [a], not_null: [b]}
      - relationships: {column: a, to: b}
      - row_count: {mni: 1}
        severity: fatal
";
    let probs = problems(&format!("{MINIMAL}{bad}"));
    let text: Vec<String> = probs
        .iter()
        .map(|p| format!("{}:{}: {}", p.line.unwrap_or(0), p.path, p.message))
        .collect();
    assert_eq!(text.len(), 7, "{text:#?}");
    assert!(text[0].starts_with("17:checks.hot_list.columns.rank[0]: unknown column test `not_nul`, did you mean `not_null`?"), "{text:#?}");
    assert!(
        text[1].starts_with("19:checks.hot_list.tests[0]: row_count: min 5 is above max 1"),
        "{text:#?}"
    );
    assert!(
        text[2].contains("tests[1]: unique: the list of columns is empty"),
        "{text:#?}"
    );
    assert!(
        text[3].contains("tests[2]: expression: give the SQL expression as a string"),
        "{text:#?}"
    );
    assert!(
        text[4].contains("tests[3]: one test per entry"),
        "{text:#?}"
    );
    assert!(
        text[5].contains("tests[4]: relationships: needs `field:`"),
        "{text:#?}"
    );
    assert!(
        text[6].starts_with("24:checks.hot_list.tests[5]: severity is `error` or `warn`"),
        "{text:#?}"
    );
}

#[test]
fn models_can_be_a_list_of_layered_folders() {
    let p = parse(MINIMAL).unwrap();
    assert!(p.model_overlays.is_empty());
    assert_eq!(p.model_folders(), vec![PathBuf::from("pipelines/sql")]);

    let layered = MINIMAL.replace("models: ./sql", "models: [../sql, ../sql/_x_education]");
    let p = parse(&layered).unwrap();
    assert_eq!(p.models_dir, Path::new("sql"));
    assert_eq!(
        p.model_folders(),
        vec![PathBuf::from("sql"), PathBuf::from("sql/_x_education")]
    );

    let empty = MINIMAL.replace("models: ./sql", "models: []");
    let found = problems(&empty);
    assert!(
        found
            .iter()
            .any(|p| p.path == "models" && p.message.contains("at least one folder")),
        "{found:?}"
    );
    let blank = MINIMAL.replace("models: ./sql", "models: [./sql, '']");
    let found = problems(&blank);
    assert!(found.iter().any(|p| p.path == "models[1]"), "{found:?}");
}
