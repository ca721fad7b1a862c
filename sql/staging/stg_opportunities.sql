-- stg_opportunities
-- Grain: one row per Salesforce Opportunity row (opportunities.csv), opportunity_id = the Opportunity Id.
-- channel = LeadSource (trimmed, 'Unknown' when missing), opportunity_type = Type (New Business,
-- Renewal, Expansion).
-- is_won / is_closed: a missing flag is read as false. Amount is the annual contract value (ACV).
WITH source AS (
    SELECT * FROM opportunities
)

SELECT
    trim("Id")                              AS opportunity_id,
    trim("AccountId")                       AS account_id,
    trim("Name")                            AS opportunity_name,
    "CreatedDate"                           AS created_at,
    CAST("CreatedDate" AS DATE)             AS created_date,
    "CloseDate"                             AS close_date,
    NULLIF(trim("StageName"), '')           AS stage_name,
    "Amount"                                AS amount,
    coalesce("IsClosed", FALSE)             AS is_closed,
    coalesce("IsWon", FALSE)                AS is_won,
    NULLIF(trim("Type"), '')                AS opportunity_type,
    coalesce(NULLIF(trim("LeadSource"), ''), 'Unknown') AS channel,
    NULLIF(trim("Product_Type__c"), '')     AS product_type,
    "Seats__c"                              AS seats,
    "Contract_Start__c"                     AS contract_start_date,
    "Contract_End__c"                       AS contract_end_date,
    NULLIF(trim("OwnerId"), '')             AS owner_id
FROM source
