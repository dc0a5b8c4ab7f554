-- A reader's terms of one publication and edition, by first issue: the question a PDF download and
-- its stamp ask (which active digital term covers this issue?). Without first_period in the index
-- SQLite, having no statistics, answered it by scanning every term of the edition that began
-- before the issue (tens of thousands in a shop of realistic size, twice per download).
DROP INDEX subscriptions_reader;
CREATE INDEX subscriptions_reader ON subscriptions (email_normalized, publication, edition, first_period);
