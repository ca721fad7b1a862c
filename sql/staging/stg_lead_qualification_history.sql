-- stg_lead_qualification_history
-- Grain: one row per BANT capture (lead_qualification row) recorded as of run_date (CapturedAt before
-- run_date + 1 day). Unlike stg_lead_qualification (the latest answers per lead), every capture is
-- kept, so that lead scoring can read the answers a lead had given at a chosen moment (no later
-- answers leak into a historical lead's features). Enum values arrive lowercase from the loader.
WITH source AS (
    SELECT * FROM lead_qualification
)

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
