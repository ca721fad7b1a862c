//! The DataFusion side of [`super::calibration`]: the aggregate `calibration_fit` and the scalar
//! `calibrate`.
//!
//! ```sql
//! SELECT calibration_fit(logistic_score(model, features), outcome, t [, l2]) AS calibration ...
//! SELECT calibrate(calibration, logistic_score(model, features), t) AS probability ...
//! ```
//!
//! `probability` and `t` are numbers (cast to Float64; a NULL `t` is 0); rows with a NULL label
//! or a NULL probability are not fitted. `l2` (default 1.0) must be a constant. `calibrate`
//! returns NULL for a NULL calibration or probability.

use super::calibration::{self, Calibration, Points};
use super::udf::{coerce_to, list_scalar, Strings};
use arrow::array::{Array, ArrayRef, Float64Array, Float64Builder, UInt64Array};
use arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::arrow::array::RecordBatch;
use datafusion::common::cast::{
    as_boolean_array, as_float64_array, as_list_array, as_uint64_array,
};
use datafusion::common::{exec_err, plan_err, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::{format_state_name, AggregateOrderSensitivity};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use std::sync::Arc;

/// Ridge strength towards the identity map when `calibration_fit` gets no `l2`.
pub const DEFAULT_CALIBRATION_L2: f64 = 1.0;

/// `calibration_fit(probability, label [, t [, l2]])`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CalibrationFit {
    signature: Signature,
}

impl CalibrationFit {
    pub const NAME: &'static str = "calibration_fit";

    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for CalibrationFit {
    fn default() -> Self {
        Self::new()
    }
}

impl AggregateUDFImpl for CalibrationFit {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let f = Self::NAME;
        let names = ["probability", "label", "t", "l2"];
        if !(2..=4).contains(&arg_types.len()) {
            return plan_err!(
                "{f}(probability, label [, t [, l2]]) takes 2 to 4 arguments, got {}",
                arg_types.len()
            );
        }
        arg_types
            .iter()
            .zip(names)
            .map(|(dt, name)| {
                let target = if name == "label" {
                    DataType::Boolean
                } else {
                    DataType::Float64
                };
                coerce_to(f, name, dt, target)
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if args.is_distinct {
            return plan_err!("{}: DISTINCT is not supported", Self::NAME);
        }
        let l2 = match args.exprs.get(3) {
            Some(expr) => {
                let empty = RecordBatch::new_empty(Arc::new(Schema::clone(args.schema)));
                match expr.evaluate(&empty)? {
                    ColumnarValue::Scalar(ScalarValue::Float64(None)) => DEFAULT_CALIBRATION_L2,
                    ColumnarValue::Scalar(ScalarValue::Float64(Some(v)))
                        if v.is_finite() && v >= 0.0 =>
                    {
                        v
                    }
                    _ => {
                        return exec_err!(
                            "{}: l2 must be a constant number >= 0 (a literal or a var)",
                            Self::NAME
                        )
                    }
                }
            }
            None => DEFAULT_CALIBRATION_L2,
        };
        Ok(Box::new(CalibrationFitAccumulator {
            points: Points::new(),
            l2,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |name: &str, item: DataType| {
            Arc::new(Field::new(
                format_state_name(args.name, name),
                DataType::List(Arc::new(Field::new_list_field(item, true))),
                true,
            ))
        };
        Ok(vec![
            list("p", DataType::Float64),
            list("t", DataType::Float64),
            list("rows", DataType::UInt64),
            list("positives", DataType::UInt64),
        ])
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        AggregateOrderSensitivity::Insensitive
    }
}

/// Counts per distinct (probability, t); fitted once in `evaluate`.
#[derive(Debug)]
pub struct CalibrationFitAccumulator {
    points: Points,
    l2: f64,
}

impl Accumulator for CalibrationFitAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let f = CalibrationFit::NAME;
        let (p, labels) = match values {
            [p, l, ..] => (as_float64_array(p)?, as_boolean_array(l)?),
            _ => return exec_err!("{f}: expected probability and label"),
        };
        let t = values.get(2).map(|a| as_float64_array(a)).transpose()?;
        for row in 0..p.len() {
            if p.is_null(row) || labels.is_null(row) {
                continue;
            }
            let time = t
                .filter(|t| t.is_valid(row))
                .map(|t| t.value(row))
                .unwrap_or(0.0);
            self.points
                .add(p.value(row), time, 1, u64::from(labels.value(row)));
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let (mut p, mut t, mut n, mut k) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (pi, ti, ni, ki) in self.points.iter() {
            p.push(pi);
            t.push(ti);
            n.push(ni);
            k.push(ki);
        }
        Ok(vec![
            list_scalar(Arc::new(Float64Array::from(p)))?,
            list_scalar(Arc::new(Float64Array::from(t)))?,
            list_scalar(Arc::new(UInt64Array::from(n)))?,
            list_scalar(Arc::new(UInt64Array::from(k)))?,
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let f = CalibrationFit::NAME;
        let [p, t, n, k] = states else {
            return exec_err!("{f}: expected 4 state columns, got {}", states.len());
        };
        let (p, t, n, k) = (
            as_list_array(p)?,
            as_list_array(t)?,
            as_list_array(n)?,
            as_list_array(k)?,
        );
        for r in 0..p.len() {
            if p.is_null(r) {
                continue;
            }
            let (pv, tv, nv, kv) = (p.value(r), t.value(r), n.value(r), k.value(r));
            let (pv, tv) = (as_float64_array(&pv)?, as_float64_array(&tv)?);
            let (nv, kv) = (as_uint64_array(&nv)?, as_uint64_array(&kv)?);
            let len = pv.len();
            if [tv.len(), nv.len(), kv.len()].iter().any(|&l| l != len) {
                return exec_err!("{f}: state columns differ in length");
            }
            for i in 0..len {
                self.points
                    .add(pv.value(i), tv.value(i), nv.value(i), kv.value(i));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let fitted = calibration::fit(&self.points, self.l2);
        tracing::debug!(
            points = self.points.len(),
            a = fitted.a,
            b = fitted.b,
            c = fitted.c,
            d = fitted.d,
            "calibration_fit"
        );
        let json = fitted
            .to_json()
            .map_err(|e| DataFusionError::Execution(format!("{}: {e}", CalibrationFit::NAME)))?;
        Ok(ScalarValue::Utf8(Some(json)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.points.size()
    }
}

/// `calibrate(calibration, probability [, t])`: the calibrated probability.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Calibrate {
    signature: Signature,
}

impl Calibrate {
    pub const NAME: &'static str = "calibrate";

    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for Calibrate {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for Calibrate {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let f = Self::NAME;
        let calibration = match arg_types.first() {
            Some(dt @ (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)) => dt.clone(),
            Some(DataType::Null) => DataType::Utf8,
            Some(other) => {
                return plan_err!(
                    "{f}: the calibration must be the string from calibration_fit, got {other}"
                )
            }
            None => return plan_err!("{f}(calibration, probability [, t]) takes 2 or 3 arguments"),
        };
        match &arg_types[1..] {
            [p] => Ok(vec![
                calibration,
                coerce_to(f, "probability", p, DataType::Float64)?,
            ]),
            [p, t] => Ok(vec![
                calibration,
                coerce_to(f, "probability", p, DataType::Float64)?,
                coerce_to(f, "t", t, DataType::Float64)?,
            ]),
            _ => plan_err!(
                "{f}(calibration, probability [, t]) takes 2 or 3 arguments, got {}",
                arg_types.len()
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let f = Self::NAME;
        let rows = args.number_rows;
        let parse = |text: &str| {
            Calibration::parse(text).map_err(|e| DataFusionError::Execution(format!("{f}: {e}")))
        };
        let (calibration, p, t) = match args.args.as_slice() {
            [c, p] => (c, p.to_array_of_size(rows)?, None),
            [c, p, t] => (
                c,
                p.to_array_of_size(rows)?,
                Some(t.to_array_of_size(rows)?),
            ),
            _ => return exec_err!("{f}: expected calibration, probability [, t]"),
        };
        let p = as_float64_array(&p)?;
        let t = t.as_ref().map(|a| as_float64_array(a)).transpose()?;
        // A constant calibration (the usual case) is parsed once; a column once per distinct run.
        let constant = match calibration {
            ColumnarValue::Scalar(s) => match s.try_as_str() {
                Some(text) => Some(text.map(parse).transpose()?),
                None => return exec_err!("{f}: the calibration must be a string"),
            },
            ColumnarValue::Array(_) => None,
        };
        let column = match calibration {
            ColumnarValue::Array(a) => Some(Strings::try_new(a.as_ref(), f)?),
            ColumnarValue::Scalar(_) => None,
        };
        let mut last: Option<(usize, Calibration)> = None;
        let mut out = Float64Builder::with_capacity(rows);
        for row in 0..rows {
            let cal = match (&constant, &column) {
                (Some(c), _) => *c,
                (None, Some(strings)) => match strings.get(row) {
                    None => None,
                    Some(text) => match &last {
                        Some((prev, c)) if strings.same(*prev, row) => Some(*c),
                        _ => {
                            let c = parse(text)?;
                            last = Some((row, c));
                            Some(c)
                        }
                    },
                },
                (None, None) => None,
            };
            match cal {
                Some(cal) if p.is_valid(row) => {
                    let time = t
                        .filter(|t| t.is_valid(row))
                        .map(|t| t.value(row))
                        .unwrap_or(0.0);
                    out.append_value(cal.apply(p.value(row), time));
                }
                _ => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}
