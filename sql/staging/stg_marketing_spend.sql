-- stg_marketing_spend
-- Grain: one row per marketing_spend row (month x channel as exported). Channel 'Sales' holds sales
-- salaries, a missing Channel becomes 'Unknown' like a missing LeadSource.
-- total_spend = ProgramSpend + Salaries + Tools + Other, a missing part counted as 0 (blended CAC,
-- seeds/003).
WITH source AS (
    SELECT * FROM marketing_spend
)

SELECT
    CAST(date_trunc('month', "Month") AS DATE)  AS spend_month,
    coalesce(NULLIF(trim("Channel"), ''), 'Unknown') AS channel,
    "ProgramSpend"                              AS program_spend,
    "Salaries"                                  AS salaries,
    "Tools"                                     AS tools,
    "Other"                                     AS other,
    coalesce("ProgramSpend", 0) + coalesce("Salaries", 0)
        + coalesce("Tools", 0) + coalesce("Other", 0)  AS total_spend
FROM source
