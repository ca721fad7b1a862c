-- stg_lead_qualification
-- Grain: one row per lead_id: the latest BANT answers captured for that lead up to the run date
-- (CapturedAt before run_date + 1 day: the latest CapturedAt wins, ties broken by the other columns so
-- the pick is reproducible). Enum values arrive lowercase from the loader.
WITH source AS (
    SELECT * FROM lead_qualification
),

renamed AS (
    SELECT
        trim("LeadId")          AS lead_id,
        "CapturedAt"            AS captured_at,
        "Need"                  AS need,
        "BudgetUsd"             AS budget_usd,
        "Authority"             AS authority,
        "TimelineDays"          AS timeline_days,
        "ProductInterest"       AS product_interest,
        "SelfServiceOk"         AS self_service_ok
    FROM source
    WHERE "CapturedAt" < CAST({{ run_date }} AS TIMESTAMP) + INTERVAL '1 day'
),

ranked AS (
    -- the latest capture of each lead, in one sorted pass: with the captures in (lead_id, latest first,
    -- tie-breakers) order, a capture whose previous row belongs to another lead is its lead's latest
    -- (the row that row_number() OVER (PARTITION BY lead_id ORDER BY ...) = 1 picks; DataFusion
    -- evaluates a window with one partition per lead many times slower)
    SELECT
        renamed.*,
        lag(lead_id) OVER (
            ORDER BY lead_id, captured_at DESC, need, budget_usd, authority, timeline_days,
                     product_interest, self_service_ok
        ) AS previous_lead_id
    FROM renamed
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
FROM ranked
WHERE previous_lead_id IS DISTINCT FROM lead_id
