//! Renders a model's text: `{{ var('name') }}`, `{{ var_list('name') }}` and `{{ run_date }}`.
//!
//! Vars become SQL literals (strings quoted and escaped), so a value from the YAML or the command
//! line can never change the shape of a query. Rendering never adds or removes lines, so parser
//! errors still point at the line the analyst wrote.

use super::{ModelError, SqlSpan};
use crate::spec::VarValue;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// The variables a model can use, shared by all models of a run.
#[derive(Debug, Clone)]
pub struct RenderContext {
    vars: Arc<BTreeMap<String, VarValue>>,
    run_date: chrono::NaiveDate,
}

impl RenderContext {
    pub fn new(vars: BTreeMap<String, VarValue>, run_date: chrono::NaiveDate) -> Self {
        RenderContext {
            vars: Arc::new(vars),
            run_date,
        }
    }

    /// Renders one model file's text.
    pub fn render(&self, file: &Path, text: &str) -> Result<String, ModelError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        let vars = Arc::clone(&self.vars);
        env.add_function("var", move |name: String| -> Result<Value, Error> {
            let v = lookup(&vars, &name)?;
            Ok(Value::from_safe_string(literal(v)))
        });
        let vars = Arc::clone(&self.vars);
        env.add_function("var_list", move |name: String| -> Result<Value, Error> {
            match lookup(&vars, &name)? {
                VarValue::List(items) => Ok(Value::from_safe_string(
                    items.iter().map(literal).collect::<Vec<_>>().join(", "),
                )),
                other => Ok(Value::from_safe_string(literal(other))),
            }
        });
        env.add_global(
            "run_date",
            Value::from_safe_string(format!("DATE '{}'", self.run_date.format("%Y-%m-%d"))),
        );
        env.render_str(text, ()).map_err(|e| ModelError::Render {
            file: file.to_path_buf(),
            span: e.line().map(|line| SqlSpan { line, column: 1 }),
            message: match e.detail() {
                Some(d) => d.to_string(),
                None => e.to_string(),
            },
        })
    }
}

fn lookup<'a>(vars: &'a BTreeMap<String, VarValue>, name: &str) -> Result<&'a VarValue, Error> {
    vars.get(name).ok_or_else(|| {
        let hint = crate::spec::closest(name, vars.keys().map(String::as_str))
            .map(|c| format!(", did you mean `{c}`?"))
            .unwrap_or_default();
        Error::new(
            ErrorKind::InvalidOperation,
            format!("unknown var `{name}`{hint} (define it under `vars:` in the pipeline or pass --var {name}=...)"),
        )
    })
}

/// A var as a SQL literal.
pub fn literal(v: &VarValue) -> String {
    match v {
        VarValue::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        VarValue::Int(i) => i.to_string(),
        VarValue::Float(f) => {
            let s = format!("{f:?}");
            if s.contains(['.', 'e', 'E']) {
                s
            } else {
                format!("{s}.0")
            }
        }
        VarValue::Str(s) => format!("'{}'", s.replace('\'', "''")),
        VarValue::List(items) => format!(
            "make_array({})",
            items.iter().map(literal).collect::<Vec<_>>().join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RenderContext {
        let mut vars = BTreeMap::new();
        vars.insert("gross_margin".into(), VarValue::Float(0.75));
        vars.insert("cohort_months".into(), VarValue::Int(12));
        vars.insert("won_stage".into(), VarValue::Str("Closed 'Won'".into()));
        vars.insert(
            "stages".into(),
            VarValue::List(vec![
                VarValue::Str("Qualification".into()),
                VarValue::Str("Solution".into()),
            ]),
        );
        RenderContext::new(
            vars,
            chrono::NaiveDate::from_ymd_opt(2026, 3, 4).unwrap_or_default(),
        )
    }

    #[test]
    fn renders_vars_as_literals() {
        let sql = ctx()
            .render(
                Path::new("m.sql"),
                "SELECT {{ var('gross_margin') }}, {{ var('cohort_months') }}, {{ var('won_stage') }}, {{ var('stages') }} WHERE d < {{ run_date }} AND s IN ({{ var_list('stages') }})",
            )
            .unwrap();
        assert_eq!(
            sql,
            "SELECT 0.75, 12, 'Closed ''Won''', make_array('Qualification', 'Solution') WHERE d < DATE '2026-03-04' AND s IN ('Qualification', 'Solution')"
        );
    }

    #[test]
    fn unknown_var_names_file_line_and_suggestion() {
        let err = ctx()
            .render(
                Path::new("sql/marts/x.sql"),
                "SELECT 1\nFROM t WHERE m = {{ var('gross_margn') }}",
            )
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("sql/marts/x.sql:2:1:"), "{msg}");
        assert!(msg.contains("did you mean `gross_margin`"), "{msg}");
    }

    #[test]
    fn rendering_keeps_line_count() {
        let text = "-- c\nSELECT {{ var('cohort_months') }}\nFROM t\n";
        assert_eq!(
            ctx()
                .render(Path::new("m.sql"), text)
                .unwrap()
                .lines()
                .count(),
            3
        );
    }
}
