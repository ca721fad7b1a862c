-- int_lead_answers
-- Grain: one row per lead created as of run_date that answered the BANT questions before its
-- features_as_of (int_leads_as_of): its latest answers before that moment, as lead scoring reads
-- them (int_lead_features). Ties on CapturedAt are broken by the answers themselves (need, budget,
-- authority, timeline, product interest, self-service, ascending) so that the pick is reproducible.
-- The latest capture is found in one sorted pass: with the captures in (lead_id, latest first,
-- tie-breakers) order, a capture whose previous row belongs to another lead is its lead's latest
-- (the row that row_number() OVER (PARTITION BY lead_id ORDER BY ...) = 1 picks; DataFusion
-- evaluates a window with one partition per lead many times slower). A model of its own (a table),
-- so that this sort of every capture has the memory pool to itself instead of sharing it with the
-- joins of int_lead_features.
WITH answers_ranked AS (
    SELECT
        answers.lead_id,
        answers.captured_at,
        answers.need,
        answers.budget_usd,
        answers.authority,
        answers.timeline_days,
        answers.product_interest,
        answers.self_service_ok,
        lag(answers.lead_id) OVER (
            ORDER BY answers.lead_id, answers.captured_at DESC, answers.need, answers.budget_usd,
                     answers.authority, answers.timeline_days, answers.product_interest,
                     answers.self_service_ok
        ) AS previous_lead_id
    FROM stg_lead_qualification_history AS answers
    JOIN int_leads_as_of AS leads
        ON leads.lead_id = answers.lead_id
    WHERE answers.captured_at < leads.features_as_of
)

SELECT
    lead_id,
    captured_at,
    need,
    budget_usd,
    authority,
    timeline_days,
    product_interest,
    self_service_ok
FROM answers_ranked
WHERE previous_lead_id IS DISTINCT FROM lead_id
