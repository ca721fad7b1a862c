//! Incremental sources: merge newly loaded rows into the previous state by primary key.
//!
//! A source with `incremental: {cursor: SystemModstamp}` is loaded (contract checks, quarantine)
//! into a scratch table; then one query keeps the rows whose cursor is past the last committed
//! watermark (or NULL: unknown, so kept), puts them over the previous run's raw table, and keeps
//! one row per primary key: the one with the latest cursor, the new row on a tie. Its result is
//! the source's raw table for the run, and its largest cursor the next watermark. Without a
//! previous state (the first run, or `--full-refresh`) the same query de-duplicates the load
//! alone. This module writes the SQL; the run executes it.

use crate::contract::ColumnType;
use crate::spec::Incremental;

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A watermark (as stored in the manifest) as a SQL literal of the cursor's type.
pub fn literal(cursor_type: ColumnType, value: &str) -> String {
    let quoted = format!("'{}'", value.replace('\'', "''"));
    match cursor_type {
        ColumnType::Timestamp => format!("CAST({quoted} AS TIMESTAMP)"),
        ColumnType::Date => format!("CAST({quoted} AS DATE)"),
        ColumnType::Integer => format!("CAST({quoted} AS BIGINT)"),
        ColumnType::Decimal => format!("CAST({quoted} AS DOUBLE)"),
        ColumnType::String | ColumnType::Boolean => quoted,
    }
}

/// The merge query over the tables `incoming` and (when there is a previous state) `base`.
/// Both have the contract's columns; extra (drift) columns are matched by name.
pub fn merge_sql(
    incoming: &str,
    base: Option<&str>,
    inc: &Incremental,
    primary_key: &[String],
    watermark: Option<&str>,
) -> String {
    let cursor = ident(&inc.cursor);
    let newer = match watermark {
        Some(w) => format!(
            " WHERE {cursor} IS NULL OR {cursor} > {}",
            literal(inc.cursor_type, w)
        ),
        None => String::new(),
    };
    let pk: Vec<String> = primary_key.iter().map(|k| ident(k)).collect();
    let combined = match base {
        Some(b) => format!(
            "SELECT *, 1 AS __beacon_new FROM {}{newer} UNION ALL BY NAME SELECT *, 0 AS __beacon_new FROM {}",
            ident(incoming),
            ident(b)
        ),
        None => format!("SELECT *, 1 AS __beacon_new FROM {}{newer}", ident(incoming)),
    };
    format!(
        "SELECT * EXCLUDE (__beacon_new, __beacon_rank) FROM (\
           SELECT *, row_number() OVER (PARTITION BY {} ORDER BY {cursor} DESC NULLS LAST, __beacon_new DESC) AS __beacon_rank \
           FROM ({combined}) AS combined\
         ) AS ranked WHERE __beacon_rank = 1",
        pk.join(", ")
    )
}

/// The query counting the new rows (past the watermark) of `incoming`.
pub fn new_rows_sql(incoming: &str, inc: &Incremental, watermark: Option<&str>) -> String {
    let cursor = ident(&inc.cursor);
    match watermark {
        Some(w) => format!(
            "SELECT count(*) AS n FROM {} WHERE {cursor} IS NULL OR {cursor} > {}",
            ident(incoming),
            literal(inc.cursor_type, w)
        ),
        None => format!("SELECT count(*) AS n FROM {}", ident(incoming)),
    }
}

/// The query giving the next watermark (the largest cursor, as text) of a table.
pub fn watermark_sql(table: &str, inc: &Incremental) -> String {
    format!(
        "SELECT CAST(max({}) AS VARCHAR) AS watermark, count(*) AS n FROM {}",
        ident(&inc.cursor),
        ident(table)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::prelude::SessionContext;

    async fn table(ctx: &SessionContext, name: &str, values: &str) {
        ctx.sql(&format!(
            "CREATE TABLE {name} (\"Id\" VARCHAR, \"Amount\" DOUBLE, \"SystemModstamp\" TIMESTAMP) AS VALUES {values}"
        ))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    }

    fn inc() -> Incremental {
        Incremental {
            cursor: "SystemModstamp".into(),
            cursor_type: ColumnType::Timestamp,
        }
    }

    #[tokio::test]
    async fn later_rows_win_by_key_and_old_ones_stay() {
        let ctx = SessionContext::new();
        table(
            &ctx,
            "base",
            "('A', 1.0, CAST('2026-03-01T00:00:00' AS TIMESTAMP)), ('B', 2.0, CAST('2026-03-01T00:00:00' AS TIMESTAMP))",
        )
        .await;
        // A changes; C is new; B appears again unchanged (an export of everything); an old
        // version of C, from before the watermark, is ignored; D has no cursor (kept).
        table(
            &ctx,
            "incoming",
            "('A', 10.0, CAST('2026-03-02T00:00:00' AS TIMESTAMP)), \
             ('B', 2.0, CAST('2026-03-01T00:00:00' AS TIMESTAMP)), \
             ('C', 3.0, CAST('2026-03-02T12:00:00' AS TIMESTAMP)), \
             ('C', 0.5, CAST('2026-02-01T00:00:00' AS TIMESTAMP)), \
             ('D', 4.0, NULL)",
        )
        .await;
        let sql = format!(
            "SELECT \"Id\", \"Amount\" FROM ({}) ORDER BY \"Id\"",
            merge_sql(
                "incoming",
                Some("base"),
                &inc(),
                &["Id".to_string()],
                Some("2026-03-01T00:00:00")
            )
        );
        let out = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        let text = pretty_format_batches(&out).unwrap().to_string();
        assert_eq!(
            text,
            "+----+--------+\n| Id | Amount |\n+----+--------+\n| A  | 10.0   |\n| B  | 2.0    |\n| C  | 3.0    |\n| D  | 4.0    |\n+----+--------+"
        );
        let n = ctx
            .sql(&new_rows_sql(
                "incoming",
                &inc(),
                Some("2026-03-01T00:00:00"),
            ))
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(
            pretty_format_batches(&n).unwrap().to_string(),
            "+---+\n| n |\n+---+\n| 3 |\n+---+"
        );
        let w = ctx
            .sql(&watermark_sql("incoming", &inc()))
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert!(pretty_format_batches(&w)
            .unwrap()
            .to_string()
            .contains("2026-03-02T12:00:00"));
    }

    #[test]
    fn literals_follow_the_cursor_type() {
        assert_eq!(
            literal(ColumnType::Timestamp, "2026-03-02T12:00:00"),
            "CAST('2026-03-02T12:00:00' AS TIMESTAMP)"
        );
        assert_eq!(literal(ColumnType::Integer, "42"), "CAST('42' AS BIGINT)");
        assert_eq!(literal(ColumnType::String, "o'k"), "'o''k'");
    }
}
