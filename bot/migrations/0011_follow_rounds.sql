-- A big round's "and N more": how many matches of a (follow, round) were left out of its
-- posts, kept as one count instead of one follow_posts row per article left out (a first
-- poll of many feeds against many follows would otherwise write millions of rows). What is
-- left out is not posted later all the same: matching reads each article once, when it
-- first becomes a full article (articles.first_full_seq); only an article removed from the
-- store and added again later is new again.
CREATE TABLE follow_rounds (
    follow_id INTEGER NOT NULL,
    batch INTEGER NOT NULL,
    more INTEGER NOT NULL,
    PRIMARY KEY (follow_id, batch)
) WITHOUT ROWID;

-- The rounds still being posted keep their count; the rows of left-out articles go.
INSERT INTO follow_rounds (follow_id, batch, more)
    SELECT follow_id, batch, count(*) FROM follow_posts WHERE state = 'skipped'
    AND batch IN (SELECT batch FROM follow_posts p WHERE p.follow_id = follow_posts.follow_id
                  AND p.state IN ('pending', 'sending'))
    GROUP BY follow_id, batch;
DELETE FROM follow_posts WHERE state = 'skipped';
