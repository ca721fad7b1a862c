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
    SELECT
        renamed.*,
        row_number() OVER (
            PARTITION BY lead_id
            ORDER BY captured_at DESC, need, budget_usd, authority, timeline_days, product_interest,
                     self_service_ok
        ) AS capture_rank
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
WHERE capture_rank = 1
