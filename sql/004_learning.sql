-- Language practice: conversations, utterances, the error points recorded
-- against utterances and their frequencies per user, the exercise bank, and
-- the batches of error points the flush has applied.
--
-- Error points are accepted into Redis (POST /errors) and written here in
-- batches by the flush (ngx_http_social_flush.c): one transaction inserts
-- the batch id into error_batches, the batch's rows into utterance_errors
-- and adds their counts to error_frequencies, so a batch replayed after a
-- crash finds its id and writes nothing.  Everything of a user goes with
-- the user (ON DELETE CASCADE); rows of a batch whose utterance is gone are
-- skipped, so the counts of a deleted user never land.

SET client_min_messages = warning;

-- categories are matched ignoring ASCII case only (as the module's
-- ngx_strlow() does), whatever the database's collation
CREATE FUNCTION social_key(t text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT translate(t, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                        'abcdefghijklmnopqrstuvwxyz')
$$;

CREATE TABLE conversations (
    conversation_id  bigserial PRIMARY KEY,
    user_id          bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    started_at       timestamptz NOT NULL DEFAULT now()
);

-- GET /conversations, newest first
CREATE INDEX conversations_user ON conversations (user_id,
                                                  conversation_id DESC);

CREATE TABLE utterances (
    utterance_id     bigserial PRIMARY KEY,
    conversation_id  bigint NOT NULL
                     REFERENCES conversations ON DELETE CASCADE,
    -- the conversation's user, kept here for ownership checks and cascades
    user_id          bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    content          text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- GET /conversations/{id}/utterances, newest first
CREATE INDEX utterances_conversation ON utterances (conversation_id,
                                                    utterance_id DESC);
CREATE INDEX utterances_user ON utterances (user_id);

-- the batches applied so far: a batch is "<epoch>", "<seq>" (the epoch is
-- a random value Redis keeps, so that a Redis that lost its data never
-- reuses the id of a batch applied before)
CREATE TABLE error_batches (
    epoch       text NOT NULL,
    seq         bigint NOT NULL,
    errors      integer NOT NULL DEFAULT 0,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (epoch, seq)
);

-- one row per error point, as recorded
CREATE TABLE utterance_errors (
    error_id         bigserial PRIMARY KEY,
    utterance_id     bigint NOT NULL REFERENCES utterances ON DELETE CASCADE,
    user_id          bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    category         text NOT NULL,
    subcategory      text NOT NULL,
    category_key     text NOT NULL GENERATED ALWAYS AS
                     (social_key(category)) STORED,
    subcategory_key  text NOT NULL GENERATED ALWAYS AS
                     (social_key(subcategory)) STORED,
    recorded_at      timestamptz NOT NULL,
    point_id         text NOT NULL UNIQUE,   -- random, given when recorded
    batch_epoch      text NOT NULL,
    batch_seq        bigint NOT NULL
);

-- the user's utterances that had an error of a subcategory, newest first
CREATE INDEX utterance_errors_user ON utterance_errors
    (user_id, category_key, subcategory_key, utterance_id DESC);
CREATE INDEX utterance_errors_utterance ON utterance_errors (utterance_id);
CREATE INDEX utterance_errors_batch ON utterance_errors (batch_epoch,
                                                         batch_seq);

-- the totals of the applied batches; the spelling is the first recorded
CREATE TABLE error_frequencies (
    user_id          bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    category_key     text NOT NULL,
    subcategory_key  text NOT NULL,
    category         text NOT NULL,
    subcategory      text NOT NULL,
    frequency        bigint NOT NULL CHECK (frequency > 0),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, category_key, subcategory_key)
);

-- The exercise bank.  type: multiple_choice (choices, answer one of them),
-- fill_in_the_blank (the prompt has "___"), correction (the answer is the
-- corrected sentence), reorder (the words of the prompt, the answer their
-- order).
CREATE TABLE exercises (
    exercise_id      bigserial PRIMARY KEY,
    category         text NOT NULL,
    subcategory      text NOT NULL,
    category_key     text NOT NULL GENERATED ALWAYS AS
                     (social_key(category)) STORED,
    subcategory_key  text NOT NULL GENERATED ALWAYS AS
                     (social_key(subcategory)) STORED,
    type             text NOT NULL CHECK (type IN ('multiple_choice',
                                                   'fill_in_the_blank',
                                                   'correction', 'reorder')),
    prompt           text NOT NULL,
    choices          text[],
    answer           text NOT NULL,
    CHECK ((type = 'multiple_choice') = (choices IS NOT NULL)),
    CHECK (type <> 'multiple_choice' OR answer = ANY (choices))
);

CREATE INDEX exercises_key ON exercises (category_key, subcategory_key,
                                         exercise_id);


INSERT INTO exercises (category, subcategory, type, prompt, choices, answer)
VALUES
-- Grammar: subject-verb agreement
('Grammar', 'Subject-Verb Agreement', 'multiple_choice',
 'She ___ to work every day.', '{go,goes,going,gone}', 'goes'),
('Grammar', 'Subject-Verb Agreement', 'multiple_choice',
 'The list of items ___ on the desk.', '{is,are,be,were}', 'is'),
('Grammar', 'Subject-Verb Agreement', 'fill_in_the_blank',
 'My brother and I ___ (be) in the same class.', NULL, 'are'),
('Grammar', 'Subject-Verb Agreement', 'fill_in_the_blank',
 'Everybody ___ (want) to be happy.', NULL, 'wants'),
('Grammar', 'Subject-Verb Agreement', 'correction',
 'Correct the sentence: "He don''t like coffee."', NULL,
 'He doesn''t like coffee.'),
('Grammar', 'Subject-Verb Agreement', 'correction',
 'Correct the sentence: "The dogs barks at night."', NULL,
 'The dogs bark at night.'),
('Grammar', 'Subject-Verb Agreement', 'multiple_choice',
 'Neither the teacher nor the students ___ ready.', '{was,were,is,be}',
 'were'),
('Grammar', 'Subject-Verb Agreement', 'correction',
 'Correct the sentence: "It is wrong, and it are not a sentence."', NULL,
 'It is wrong, and it is not a sentence.'),

-- Grammar: tense
('Grammar', 'Tense', 'multiple_choice',
 'Yesterday I ___ to the cinema.', '{go,went,gone,going}', 'went'),
('Grammar', 'Tense', 'multiple_choice',
 'By next year, she ___ here for ten years.',
 '{works,will have worked,has worked,worked}', 'will have worked'),
('Grammar', 'Tense', 'fill_in_the_blank',
 'I ___ (live) in Brussels since 2019.', NULL, 'have lived'),
('Grammar', 'Tense', 'fill_in_the_blank',
 'While I ___ (cook), the phone rang.', NULL, 'was cooking'),
('Grammar', 'Tense', 'correction',
 'Correct the sentence: "I have seen him yesterday."', NULL,
 'I saw him yesterday.'),
('Grammar', 'Tense', 'correction',
 'Correct the sentence: "She will calls you tomorrow."', NULL,
 'She will call you tomorrow.'),
('Grammar', 'Tense', 'multiple_choice',
 'They ___ dinner when we arrived.',
 '{had,were having,have,are having}', 'were having'),
('Grammar', 'Tense', 'fill_in_the_blank',
 'If it rains tomorrow, we ___ (stay) at home.', NULL, 'will stay'),

-- Grammar: pronouns
('Grammar', 'Pronouns', 'multiple_choice',
 'Between you and ___, this is a secret.', '{I,me,my,mine}', 'me'),
('Grammar', 'Pronouns', 'multiple_choice',
 'The book is ___; she bought it yesterday.', '{her,hers,she,herself}',
 'hers'),
('Grammar', 'Pronouns', 'fill_in_the_blank',
 'John hurt ___ while playing football.', NULL, 'himself'),
('Grammar', 'Pronouns', 'correction',
 'Correct the sentence: "Me and him went to the market."', NULL,
 'He and I went to the market.'),
('Grammar', 'Pronouns', 'correction',
 'Correct the sentence: "Her and me are friends."', NULL,
 'She and I are friends.'),
('Grammar', 'Pronouns', 'multiple_choice',
 'The company changed ___ logo last year.', '{its,it''s,their,his}',
 'its'),
('Grammar', 'Pronouns', 'fill_in_the_blank',
 'This is the man ___ car was stolen.', NULL, 'whose'),

-- Grammar: articles
('Grammar', 'Articles', 'multiple_choice',
 'She is ___ honest person.', '{a,an,the,no article}', 'an'),
('Grammar', 'Articles', 'multiple_choice',
 '___ sun rises in the east.', '{A,An,The,No article}', 'The'),
('Grammar', 'Articles', 'fill_in_the_blank',
 'I would like ___ apple, please.', NULL, 'an'),
('Grammar', 'Articles', 'correction',
 'Correct the sentence: "He is a engineer in the Brussels."', NULL,
 'He is an engineer in Brussels.'),
('Grammar', 'Articles', 'correction',
 'Correct the sentence: "I play the football on Sundays."', NULL,
 'I play football on Sundays.'),
('Grammar', 'Articles', 'fill_in_the_blank',
 'She plays ___ piano beautifully.', NULL, 'the'),
('Grammar', 'Articles', 'multiple_choice',
 'It was ___ unique opportunity.', '{a,an,the,no article}', 'a'),

-- Grammar: prepositions
('Grammar', 'Prepositions', 'multiple_choice',
 'The meeting is ___ Monday.', '{in,on,at,by}', 'on'),
('Grammar', 'Prepositions', 'multiple_choice',
 'She has lived here ___ 2015.', '{for,since,from,during}', 'since'),
('Grammar', 'Prepositions', 'fill_in_the_blank',
 'We arrived ___ the airport at noon.', NULL, 'at'),
('Grammar', 'Prepositions', 'fill_in_the_blank',
 'He is interested ___ learning languages.', NULL, 'in'),
('Grammar', 'Prepositions', 'correction',
 'Correct the sentence: "I am good in mathematics."', NULL,
 'I am good at mathematics.'),
('Grammar', 'Prepositions', 'correction',
 'Correct the sentence: "It depends of the weather."', NULL,
 'It depends on the weather.'),
('Grammar', 'Prepositions', 'multiple_choice',
 'The keys are ___ the drawer.', '{in,on,at,to}', 'in'),

-- Grammar: word order
('Grammar', 'Word Order', 'reorder',
 'Put the words in order: always / she / late / is', NULL,
 'She is always late.'),
('Grammar', 'Word Order', 'reorder',
 'Put the words in order: you / where / live / do', NULL,
 'Where do you live?'),
('Grammar', 'Word Order', 'reorder',
 'Put the words in order: a / car / red / big / bought / he', NULL,
 'He bought a big red car.'),
('Grammar', 'Word Order', 'correction',
 'Correct the sentence: "I like very much chocolate."', NULL,
 'I like chocolate very much.'),
('Grammar', 'Word Order', 'correction',
 'Correct the sentence: "Can you tell me where is the station?"', NULL,
 'Can you tell me where the station is?'),
('Grammar', 'Word Order', 'multiple_choice',
 'Which sentence is correct?',
 '{"Never I have seen such a thing.","Never have I seen such a thing.",'
 '"I never have seen such thing a.","Seen never I have such a thing."}',
 'Never have I seen such a thing.'),
('Grammar', 'Word Order', 'correction',
 'Correct the sentence: "It is wrong not a sentence but is it."', NULL,
 'It is wrong; it is not a sentence.'),

-- Vocabulary: word choice
('Vocabulary', 'Word Choice', 'multiple_choice',
 'Can you ___ me your pen?', '{borrow,lend,loan,take}', 'lend'),
('Vocabulary', 'Word Choice', 'multiple_choice',
 'The medicine had a strong ___ on him.', '{affect,effect,affection,effort}',
 'effect'),
('Vocabulary', 'Word Choice', 'fill_in_the_blank',
 'I ___ (say/tell) her the truth yesterday.', NULL, 'told'),
('Vocabulary', 'Word Choice', 'correction',
 'Correct the sentence: "Please learn me how to swim."', NULL,
 'Please teach me how to swim.'),
('Vocabulary', 'Word Choice', 'correction',
 'Correct the sentence: "I am very boring in this class." (the class bores '
 'you)', NULL, 'I am very bored in this class.'),
('Vocabulary', 'Word Choice', 'multiple_choice',
 'There were ___ people at the concert than last year.',
 '{less,fewer,little,lesser}', 'fewer'),
('Vocabulary', 'Word Choice', 'fill_in_the_blank',
 'She ___ (raised/rose) her hand to ask a question.', NULL, 'raised'),

-- Vocabulary: collocation
('Vocabulary', 'Collocation', 'multiple_choice',
 'Could you ___ me a favour?', '{make,do,give,take}', 'do'),
('Vocabulary', 'Collocation', 'multiple_choice',
 'We need to ___ a decision today.', '{do,make,take over,get}', 'make'),
('Vocabulary', 'Collocation', 'fill_in_the_blank',
 'It was raining, so I ___ (took/made) a taxi.', NULL, 'took'),
('Vocabulary', 'Collocation', 'correction',
 'Correct the sentence: "He did a big mistake."', NULL,
 'He made a big mistake.'),
('Vocabulary', 'Collocation', 'correction',
 'Correct the sentence: "There was heavy wind last night."', NULL,
 'There was strong wind last night.'),
('Vocabulary', 'Collocation', 'multiple_choice',
 'She has ___ hair.', '{long blonde,blonde long,tall blonde,high blonde}',
 'long blonde'),
('Vocabulary', 'Collocation', 'fill_in_the_blank',
 'Please ___ attention to the instructions.', NULL, 'pay'),

-- Spelling
('Spelling', 'Misspelling', 'multiple_choice',
 'Which word is spelt correctly?',
 '{recieve,receive,receeve,riceive}', 'receive'),
('Spelling', 'Misspelling', 'multiple_choice',
 'Which word is spelt correctly?',
 '{definately,definitly,definitely,defenitely}', 'definitely'),
('Spelling', 'Misspelling', 'correction',
 'Correct the spelling: "I will acommodate you tommorow."', NULL,
 'I will accommodate you tomorrow.'),
('Spelling', 'Misspelling', 'correction',
 'Correct the spelling: "It was a wierd occurence."', NULL,
 'It was a weird occurrence.'),
('Spelling', 'Misspelling', 'fill_in_the_blank',
 'Fill in the missing letters of the word for "needed": nec_ss_ry', NULL,
 'necessary'),
('Spelling', 'Homophones', 'multiple_choice',
 '___ going to the park later.', '{Their,There,They''re,Thier}',
 'They''re'),
('Spelling', 'Homophones', 'multiple_choice',
 'I would like ___ come too.', '{to,too,two,tow}', 'to'),
('Spelling', 'Homophones', 'correction',
 'Correct the sentence: "Your welcome to join us."', NULL,
 'You''re welcome to join us.'),
('Spelling', 'Homophones', 'fill_in_the_blank',
 'I don''t know ___ (weather/whether) to go.', NULL, 'whether'),

-- Punctuation
('Punctuation', 'Commas', 'correction',
 'Add the missing commas: "After dinner we went for a walk talked and '
 'laughed."', NULL, 'After dinner, we went for a walk, talked and laughed.'),
('Punctuation', 'Commas', 'multiple_choice',
 'Which sentence is punctuated correctly?',
 '{"I like cooking my family and my pets.",'
 '"I like cooking, my family, and my pets.",'
 '"I like, cooking my family and my pets.",'
 '"I, like cooking my family, and my pets."}',
 'I like cooking, my family, and my pets.'),
('Punctuation', 'Commas', 'correction',
 'Correct the comma splice: "It was late, we went home."', NULL,
 'It was late, so we went home.'),
('Punctuation', 'Commas', 'fill_in_the_blank',
 'However___ the results were not conclusive. (the punctuation mark)',
 NULL, ','),
('Punctuation', 'Apostrophes', 'multiple_choice',
 'The ___ toys were everywhere.', '{childrens,childrens'',children''s,'
 'childrens''s}', 'children''s'),
('Punctuation', 'Apostrophes', 'correction',
 'Correct the sentence: "The cat licked it''s paw."', NULL,
 'The cat licked its paw.'),
('Punctuation', 'Apostrophes', 'correction',
 'Correct the sentence: "We bought apple''s and banana''s."', NULL,
 'We bought apples and bananas.'),
('Punctuation', 'Apostrophes', 'fill_in_the_blank',
 'This is James___ house. (possessive)', NULL, '''s'),
('Punctuation', 'End Punctuation', 'correction',
 'Correct the punctuation: "Where are you going."', NULL,
 'Where are you going?'),
('Punctuation', 'End Punctuation', 'multiple_choice',
 'Which sentence is punctuated correctly?',
 '{"What a beautiful day!","What a beautiful day?",'
 '"What a beautiful day,","what a beautiful day"}',
 'What a beautiful day!');
