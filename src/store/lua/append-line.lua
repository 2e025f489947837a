-- Appends a line to a lead record's tail (a profile read from the CRM). KEYS: lead record, its
-- timeline and profile of the earlier formats. ARGV: tail line, record TTL (ms).
-- -1: the lead still has keys of the earlier formats, to be moved into its record first.
-- @include lead-record
if lead_earlier(KEYS[1], KEYS[2], KEYS[3]) then return -1 end
lead_append(KEYS[1], ARGV[1], ARGV[2])
return 1
