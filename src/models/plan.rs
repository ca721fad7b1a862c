//! Plans every model against declared schemas without reading any data (`beacon validate`).
//!
//! Sources are registered as empty tables with the schema the loader gives them (the contract's
//! columns and types). Each model is then planned in graph order, logically and physically, which
//! is where DataFusion resolves tables, columns, functions and types, and its output schema is
//! registered as an empty table for the models downstream. Every model is planned even after
//! another one failed; only the models downstream of a failure are left unchecked, since their
//! input schema is unknown. DataFusion's diagnostics give the line and column of a problem
//! (`datafusion.sql_parser.collect_spans`, set by the engine), mapped back to the file as written.

use super::{Model, ModelError, ModelGraph, SqlSpan};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::DataFusionError;
use datafusion::datasource::empty::EmptyTable;
use datafusion::prelude::SessionContext;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What planning found.
#[derive(Debug, Default)]
pub struct Planned {
    /// The output schema of every model (and source) that planned.
    pub schemas: BTreeMap<String, SchemaRef>,
    pub errors: Vec<ModelError>,
    /// Models not planned because a model they read has a problem: (model, that model).
    pub unchecked: Vec<(String, String)>,
}

/// Registers an empty table with `schema` under `name`, replacing what was there.
///
/// An `EmptyTable` rather than an empty `MemTable`: the same rows (none), and a plan reading it
/// can be serialized, which a distributed engine (Ballista) needs to ship it to its scheduler.
pub fn register_empty(
    ctx: &SessionContext,
    name: &str,
    schema: SchemaRef,
) -> Result<(), DataFusionError> {
    let table = EmptyTable::new(schema);
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
}

/// Plans the models of `graph` in `ctx`, where `sources` are registered as empty tables first.
pub async fn plan_models(
    ctx: &SessionContext,
    graph: &ModelGraph,
    sources: &[(String, SchemaRef)],
) -> Planned {
    let mut planned = Planned::default();
    for (name, schema) in sources {
        if let Err(e) = register_empty(ctx, name, Arc::clone(schema)) {
            planned.errors.push(ModelError::Execute {
                model: name.clone(),
                file: Default::default(),
                message: e.to_string(),
            });
            continue;
        }
        planned.schemas.insert(name.clone(), Arc::clone(schema));
    }
    for model in &graph.models {
        if let Some(missing) = model
            .model_deps
            .iter()
            .find(|d| !planned.schemas.contains_key(d.as_str()))
        {
            planned
                .unchecked
                .push((model.name.clone(), missing.clone()));
            continue;
        }
        match plan_one(ctx, model).await {
            Ok(schema) => {
                if let Err(e) = register_empty(ctx, &model.name, Arc::clone(&schema)) {
                    planned.errors.push(located(model, &e));
                    continue;
                }
                planned.schemas.insert(model.name.clone(), schema);
            }
            Err(e) => planned.errors.push(located(model, &e)),
        }
    }
    planned
}

async fn plan_one(ctx: &SessionContext, model: &Model) -> Result<SchemaRef, DataFusionError> {
    let df = ctx.sql(&model.sql).await?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    df.create_physical_plan().await?;
    Ok(schema)
}

/// A planning error of `model` as a located [`ModelError::Invalid`].
pub fn located(model: &Model, err: &DataFusionError) -> ModelError {
    let (message, span) = describe_error(err, &model.sql, &model.text);
    ModelError::Invalid {
        model: model.name.clone(),
        file: model.file.clone(),
        span,
        message,
    }
}

/// A message and a location in `text` (the file as written) for an error planning `sql` (the
/// rendered text of the same file). Used for models and for singular tests.
pub fn describe_error(err: &DataFusionError, sql: &str, text: &str) -> (String, Option<SqlSpan>) {
    let mut message;
    let mut span = None;
    if let Some(d) = err.diagnostic() {
        message = d.message.clone();
        // DataFusion suggests similar columns one note at a time: say it once.
        let texts: Vec<&str> = d
            .notes
            .iter()
            .map(|n| n.message.as_str())
            .chain(d.helps.iter().map(|h| h.message.as_str()))
            .collect();
        let similar: Vec<&str> = texts
            .iter()
            .filter_map(|m| m.strip_prefix("possible column "))
            .collect();
        for m in texts.iter().filter(|m| !m.starts_with("possible column ")) {
            message.push_str(&format!("; {m}"));
        }
        if !similar.is_empty() {
            message.push_str(&format!(", did you mean {}?", similar.join(" or ")));
        }
        // Some diagnostics (incompatible types) place only their notes: take the first.
        let first = d
            .span
            .into_iter()
            .chain(d.notes.iter().filter_map(|n| n.span))
            .chain(d.helps.iter().filter_map(|h| h.span))
            .find(|s| s.start.line > 0);
        if let Some(s) = first {
            span = Some(SqlSpan {
                line: s.start.line as usize,
                column: s.start.column as usize,
            });
        } else {
            // No location: DataFusion's own message says more (the operator and its types).
            message.push_str(&format!(" ({})", clean(&err.find_root().to_string())));
        }
    } else {
        message = clean(&err.to_string());
        // Without a diagnostic, place the first quoted name the message mentions.
        span = quoted_names(&message)
            .into_iter()
            .find_map(|n| super::graph::find_word(sql, n));
    }
    (message, span.map(|s| to_written(s, sql, text)))
}

fn clean(msg: &str) -> String {
    let mut m = msg.trim();
    for prefix in [
        "Error during planning: ",
        "Schema error: ",
        "SQL error: ",
        "Optimizer rule ",
        "Execution error: ",
    ] {
        if let Some(rest) = m.strip_prefix(prefix) {
            m = rest;
        }
    }
    m.lines().next().unwrap_or(m).trim().to_string()
}

/// Names in a message quoted with '...' or `...` (DataFusion quotes columns and tables so).
fn quoted_names(msg: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for quote in ['\'', '`'] {
        let mut parts = msg.split(quote);
        parts.next();
        while let (Some(inside), Some(_)) = (parts.next(), parts.next()) {
            let name = inside.rsplit('.').next().unwrap_or(inside);
            if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                out.push(name);
            }
        }
    }
    out
}

/// Rendering keeps lines but a var can shift columns: find the same word on the same line of
/// the file as written.
fn to_written(span: SqlSpan, sql: &str, text: &str) -> SqlSpan {
    let (Some(rendered), Some(written)) = (
        sql.lines().nth(span.line.saturating_sub(1)),
        text.lines().nth(span.line.saturating_sub(1)),
    ) else {
        return span;
    };
    if rendered == written {
        return span;
    }
    let start: usize = rendered
        .char_indices()
        .nth(span.column.saturating_sub(1))
        .map(|(i, _)| i)
        .unwrap_or(rendered.len());
    let word: String = rendered[start..]
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if word.is_empty() {
        return span;
    }
    match super::graph::find_word(written, &word) {
        Some(found) => SqlSpan {
            line: span.line,
            column: found.column,
        },
        None => span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn file_of(e: &ModelError) -> &Path {
        match e {
            ModelError::Invalid { file, .. } => file,
            _ => Path::new(""),
        }
    }
    use crate::models::render::RenderContext;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    fn graph(files: &[(&str, &str)]) -> (tempfile::TempDir, ModelGraph, Vec<ModelError>) {
        let dir = tempfile::tempdir().unwrap();
        for (name, sql) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, sql).unwrap();
        }
        let mut vars = BTreeMap::new();
        vars.insert("limit".to_string(), crate::spec::VarValue::Int(10));
        let render = RenderContext::new(
            vars,
            chrono::NaiveDate::from_ymd_opt(2026, 3, 4).unwrap_or_default(),
        );
        let (g, errors) = ModelGraph::load_partial(dir.path(), &render, &["leads".to_string()]);
        (dir, g, errors)
    }

    fn leads() -> Vec<(String, SchemaRef)> {
        vec![(
            "leads".to_string(),
            Arc::new(Schema::new(vec![
                Field::new("Id", DataType::Utf8, true),
                Field::new("Amount", DataType::Float64, true),
            ])),
        )]
    }

    fn ctx() -> SessionContext {
        SessionContext::new_with_config(
            datafusion::prelude::SessionConfig::new()
                .set_bool("datafusion.sql_parser.collect_spans", true),
        )
    }

    #[tokio::test]
    async fn every_problem_is_found_and_located() {
        let (_dir, g, errors) = graph(&[
            (
                "staging/stg.sql",
                "SELECT \"Id\" AS id, \"Amount\" AS amount\nFROM leads",
            ),
            ("marts/a.sql", "-- a\nSELECT id,\n       amont\nFROM stg"),
            (
                "marts/b.sql",
                "SELECT id FROM stg\nWHERE amount > {{ var('limit') }} AND id + 1 > 0",
            ),
            ("marts/c.sql", "SELECT * FROM a"),
            ("marts/d.sql", "SELECT no_such_fn(id) FROM stg"),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        let planned = plan_models(&ctx(), &g, &leads()).await;
        let msgs: Vec<String> = planned.errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(msgs.len(), 3, "{msgs:#?}");
        assert!(
            msgs[0].ends_with(
                "a.sql:3:8: model `a`: column 'amont' not found, did you mean stg.amount?"
            ),
            "{msgs:#?}"
        );
        assert!(file_of(&planned.errors[0]).ends_with("marts/a.sql"));
        assert!(msgs[1].contains("b.sql: model `b`: expressions have incompatible types; has type Utf8; has type Int64 (Cannot coerce arithmetic expression Utf8 + Int64"), "{msgs:#?}");
        assert!(msgs[2].contains("d.sql:1:8: model `d`"), "{msgs:#?}");
        assert!(msgs[2].contains("no_such_fn"), "{msgs:#?}");
        assert_eq!(planned.unchecked, vec![("c".to_string(), "a".to_string())]);
        assert!(planned.schemas.contains_key("stg"));
        assert_eq!(
            planned.schemas["stg"].field(1).data_type(),
            &DataType::Float64
        );
    }

    #[test]
    fn columns_move_back_to_the_written_text() {
        let sql = "SELECT x FROM t WHERE a > 10 AND bogus = 1";
        let text = "SELECT x FROM t WHERE a > {{ var('limit') }} AND bogus = 1";
        let col = sql.find("bogus").unwrap() + 1;
        let s = to_written(
            SqlSpan {
                line: 1,
                column: col,
            },
            sql,
            text,
        );
        assert_eq!(s.column, text.find("bogus").unwrap() + 1);
    }
}
