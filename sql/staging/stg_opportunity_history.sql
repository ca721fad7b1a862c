-- stg_opportunity_history
-- Grain: one row per stage change (Salesforce OpportunityHistory row): the opportunity entered
-- stage_name at stage_entered_at.
WITH source AS (
    SELECT * FROM opportunity_history
)

SELECT
    trim("Id")                      AS history_id,
    trim("OpportunityId")           AS opportunity_id,
    "CreatedDate"                   AS stage_entered_at,
    trim("StageName")               AS stage_name,
    "Amount"                        AS amount,
    "CloseDate"                     AS close_date
FROM source
