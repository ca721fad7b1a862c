-- int_lead_scores
-- Everything lead_scores publishes, unordered (lead_scores only sorts it). A view in the shipped
-- pipeline (`views:`): lead_scores plans it inside its own query, and the 10M leads are written
-- once, sorted, instead of also to a scratch table (at 10M leads 8 s less).
-- Grain: one row per lead created as of run_date: every open lead (is_open: not converted, Status not
-- Disqualified) to work today, and every historical lead for evaluation (filter on is_open, or on
-- outcome_known / sample). METRICS.md lead_scores; hypothesis 1 of seeds/000.
-- Readings:
--   * conversion_probability: P(the lead converts to a won opportunity within var outcome_window_days
--     of creation), from the 'production' model of int_lead_score_models (logistic regression learned
--     in this run from every outcome-known lead, features in int_lead_features), calibrated by its map
--     (int_lead_score_models: fitted on the last var score_recent_days days of labelled leads, with
--     the trend of the conversion rate carried to the lead's creation date). Its calibration on a
--     time-based holdout is published in lead_score_calibration / lead_score_evaluation. METRICS.md's
--     "calibrated: on history, mean predicted within each decile is within 5 points" is read as
--     measured on that holdout (a model's fit on its own training rows proves nothing).
--   * score (0..100): the lead's percentile among the outcome-known leads of history, ranked by the
--     production model's own probability before calibration (raw_probability: the lead's profile, not
--     the date it came in, so an old lead and a new one with the same answers get the same score): the
--     share of them whose raw probability is at or below this lead's, x 100, rounded. "Score 93" = the
--     lead looks better than 93% of the leads we have seen the outcome of. Stable in meaning when the
--     base rate moves; NULL when there is no labelled history yet.
--   * grade: A from var grade_a, B from var grade_b, C from var grade_c, D below (on score; with the
--     defaults 90 / 70 / 40: A = top decile of history, B = next 20%, C = next 30%, D = bottom 40%).
--   * expected_acv: the typical won New Business ACV of the lead's employee band (int_typical_deal_size;
--     unknown size or a band without wins: all sizes).
--   * route: 'nurture' below grade C; else 'account_executive' when expected_acv >= var ae_min_acv and the
--     buyer did not say SelfServiceOk (latest answer as of run_date); else 'self_service'. Computed for
--     every row, meaningful for open leads.
--   * top_reasons: the three tokens of the lead with the largest effect on its log-odds, with direction
--     ("Persona: data leader (raises); ..."); model_version: the production model's version.
WITH production_model AS (
    -- views: a scalar subquery's text is joined to every row, a view shares one copy
    SELECT
        arrow_cast(model, 'Utf8View')       AS model,
        model_version,
        arrow_cast(calibration, 'Utf8View') AS calibration,
        trend_origin_years
    FROM int_lead_score_models
    WHERE model_scope = 'production'
),

scored AS (
    -- the model's functions on int_lead_features alone: the join with the answers below then
    -- sorts the scores and reasons, not every lead's feature list (at 10M leads that sort spilled
    -- 3.5 GB)
    SELECT
        features.lead_id,
        features.account_id,
        features.company,
        features.created_at,
        features.status,
        features.channel,
        features.is_open,
        features.outcome_known,
        features.outcome,
        features.sample,
        features.years_before_run,
        features.typical_acv                                                    AS expected_acv,
        logistic_score((SELECT model FROM production_model), features.features)         AS raw_probability,
        logistic_reasons((SELECT model FROM production_model), features.features, 3)     AS top_reasons
    FROM int_lead_features AS features
),

answered AS (
    SELECT
        scored.*,
        answers.product_interest,
        answers.self_service_ok
    FROM scored
    LEFT JOIN stg_lead_qualification AS answers
        ON answers.lead_id = scored.lead_id
),

calibrated AS (
    SELECT
        answered.*,
        calibrate(
            (SELECT calibration FROM production_model),
            raw_probability,
            coalesce((SELECT trend_origin_years FROM production_model) - years_before_run, 0.0)
        )                                                       AS conversion_probability
    FROM answered
),

reference_probabilities AS (
    -- the production model's raw probability for every lead with a known outcome: the reference
    -- set each lead's score is read against
    -- (NULL without a production model: then there are none, and every score is NULL; said here
    -- and not as `probability IS NOT NULL`, which DataFusion would evaluate the model for twice)
    SELECT logistic_score((SELECT model FROM production_model), features) AS probability
    FROM int_lead_features
    WHERE outcome_known
      AND (SELECT model FROM production_model) IS NOT NULL
),

reference_size AS (
    SELECT count(*) AS reference_leads FROM reference_probabilities
),

score_steps AS (
    -- The score is round(100 * c / n), half up, with c the reference leads at or below the lead
    -- and n all of them: in integers (200c + n) / (2n), a step function of c that rises from 0 to
    -- 100. It rises (by `steps`) exactly at the k-th smallest reference probability, for the k
    -- where (200k + n) / (2n) > (200(k-1) + n) / (2n): 100 steps in all, fewer distinct points
    -- when n < 100. A lead's score is then the number of steps at or below its probability.
    -- One sort of the reference probabilities (one column), not of every scored lead with all
    -- its columns, and the lookup list holds 100 numbers, not n.
    SELECT
        ranked.probability,
        (200 * ranked.k + size.reference_leads) / (2 * size.reference_leads)
            - (200 * (ranked.k - 1) + size.reference_leads) / (2 * size.reference_leads) AS steps
    FROM (
        SELECT probability, CAST(row_number() OVER (ORDER BY probability) AS BIGINT) AS k
        FROM reference_probabilities
    ) AS ranked
    CROSS JOIN reference_size AS size
),

reference AS (
    -- NULL when no lead has a known outcome yet: every score is then NULL
    SELECT flatten(array_agg(array_repeat(probability, steps))) AS score_steps
    FROM score_steps
    WHERE steps > 0
),

graded AS (
    SELECT
        calibrated.*,
        count_at_or_below((SELECT score_steps FROM reference), raw_probability) AS score
    FROM calibrated
),

routed AS (
    SELECT
        graded.*,
        CASE
            WHEN score >= {{ var('grade_a') }} THEN 'A'
            WHEN score >= {{ var('grade_b') }} THEN 'B'
            WHEN score >= {{ var('grade_c') }} THEN 'C'
            WHEN score IS NOT NULL THEN 'D'
        END AS grade
    FROM graded
)

SELECT
    lead_id,
    account_id,
    company,
    created_at,
    status,
    channel,
    is_open,
    conversion_probability,
    raw_probability,
    score,
    grade,
    CASE
        WHEN grade = 'D' THEN 'nurture'
        WHEN expected_acv >= {{ var('ae_min_acv') }} AND NOT coalesce(self_service_ok, FALSE)
            THEN 'account_executive'
        ELSE 'self_service'
    END                                                 AS route,
    expected_acv,
    product_interest,
    top_reasons,
    (SELECT model_version FROM production_model)        AS model_version,
    outcome_known,
    outcome,
    sample
FROM routed
