#!/usr/bin/env python3
"""Writes the recall evaluation set: one person's MEMORY.md, four months of daily logs
(2026-08-01 .. 2026-11-30) and questions in LongMemEval's shape. Deterministic: the same
files every run. `python3 benches/recall-set/make.py` rewrites them in place.

Each fact is a line on a given day; the other lines of a day are drawn from everyday
templates that share names, places and words with the facts, so a question must find the
right day among many that look alike. Questions name their evidence by file and a phrase
of the evidence line; a fact that changed names the stale line too.
"""
import datetime
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
START = datetime.date(2026, 8, 1)
END = datetime.date(2026, 11, 30)
rng = random.Random(29)

MEMORY_MD = """# Memory

## About me
- I live in Porto and work as a backend engineer at Bluefin, on the kestrel and heron services.
- My sister Ana lives in Porto, in Cedofeita.
- My manager is Priya Nair.
- I drink two coffees a day, both before noon.
- I'm vegetarian since 2019 (fish too: no).
- I prefer window seats on flights.
- My birthday is 14 October.
- Blood type: O negative.
- Emergency contact: Ana, +351 936 120 447.

## People
- Rui: oldest friend, travels with me, terrible at chess.
- Marta: friend from university, works at the hospital in São João.
- Tom: colleague on the heron team.
- Sofia: neighbour upstairs, runs a bookshop.
- Pedro: running buddy.

## Preferences
- Meetings before 10:00 are to be avoided when possible.
- Favourite cuisine: Japanese, then Indian.
"""

# (date, text) — the fact lines. Keys name them for the questions below.
F = {}


def fact(key, date, text):
    F[key] = (datetime.date.fromisoformat(date), text)


# Paraphrased facts.
fact("pebble", "2026-08-27", "Adopted a grey cat from the shelter in Campanhã and named her Pebble.")
fact("landlord", "2026-09-02", "Our landlord, Mr. Haddad, says the boiler will be replaced in October.")
fact("cello", "2026-09-05", "Started learning the cello: lessons with Irene on Thursday evenings.")
fact("insurance", "2026-09-10", "Car insurance renewed with Allianz, policy number AZ-88213, 384 euros a year.")
fact("lucia", "2026-09-16", "Tom's daughter was born this morning: Lucia, 3.2 kg, everyone is fine.")
fact("vitamin", "2026-09-21", "GP says my vitamin D is low; take 2000 IU every day through the winter.")
fact("bike", "2026-09-25", "Bought a used Brompton folding bike from a guy in Matosinhos for 650 euros.")
fact("podcast", "2026-10-01", "Rui recommends the podcast Hardcore History for the long drives.")
fact("teamchange", "2026-10-14", "Priya approved my move to the platform team, starting in January.")
fact("course", "2026-10-20", "Signed up for the Portuguese B1 course at Instituto Camões, Tuesday evenings.")
fact("passport", "2026-10-29", "Passport expires in March 2027, renew it before the Japan trip.")
fact("scarf", "2026-11-05", "Mum's birthday is on 2 December; she'd love a wool scarf, dark green.")
fact("lactose", "2026-11-12", "Turns out I'm lactose intolerant. Oat milk from now on.")
fact("flights", "2026-11-18", "Booked the Christmas flights to Frankfurt to see Dad: Lufthansa, leaving 22 December at 7:40.")
fact("plumber", "2026-11-24", "Jorge the plumber fixed the leak under the kitchen sink; his number is 912 334 556.")
fact("peanuts", "2026-08-18", "Marta is allergic to peanuts, so no satay when she comes over.")
fact("balcony", "2026-08-22", "Planted tomatoes and basil in the planters on the balcony.")
fact("feedback", "2026-09-28", "One-to-one with Priya: she wants me to present at the weekly demo more often.")
fact("overstory", "2026-10-08", "Sofia lent me The Overstory, says I'll cry at the end.")
fact("taxes", "2026-10-23", "Filed the tax return; a refund of 412 euros should arrive in December.")
fact("glasses", "2026-11-08", "Ordered new glasses, -2.25 in both eyes, ready in ten days.")
fact("hailmary", "2026-08-14", "Rui lent me Project Hail Mary for the beach.")
fact("piranesi", "2026-08-23", "Finished Piranesi. Strange and lovely, the best thing I read this year.")
fact("overstory_done", "2026-10-19", "Finished The Overstory; gave it back to Sofia with a jar of jam.")
# Keyword facts.
fact("cabin", "2026-08-06", "Cabin in Gerês: wifi network Casa-Geres, password pinecone-42.")
fact("disk", "2026-08-20", "Server kestrel-db-02 ran out of disk; grew the volume to 500 GB.")
fact("ops4471", "2026-09-09", "Ticket OPS-4471: the heron importer drops rows with an empty SKU.")
fact("garage", "2026-10-26", "The garage remote (Chamberlain ML700) takes a CR2032 battery.")
fact("lark", "2026-11-02", "Cut the lark release: tag v2.14.0 from commit 9f3e1c.")
fact("wedding", "2026-11-15", "Emma's wedding will be at Quinta da Aveleda on 12 June 2027.")
fact("library", "2026-08-26", "New library card for the Almeida Garrett library: number 20441987.")
fact("staging", "2026-09-18", "Osprey staging lives at staging.osprey.internal:8443 now.")
fact("caldo", "2026-10-11", "Ana's caldo verde: kale, chouriço, potatoes, garlic, lots of olive oil.")
fact("edp", "2026-11-21", "EDP electricity account, customer number 5550-2231.")
fact("vet", "2026-09-07", "Pebble's vet is Clínica Veterinária Arco, Dr. Sousa.")
fact("train", "2026-09-26", "Booked the Lisbon trip with Rui for 9 to 11 October: Alfa Pendular, booking reference CP-77120.")
fact("retro", "2026-10-30", "Heron retro action item: alert when the queue depth goes over 10k.")
fact("invoice", "2026-11-27", "Sent invoice INV-2026-031 to Bluefin Labs for the October consulting days.")
fact("nas", "2026-09-24", "The home NAS takes the key ~/.ssh/nas_ed25519, user admin.")
fact("router", "2026-08-13", "New router, TP-Link AX55; admin page at 192.168.0.1.")
fact("duolingo", "2026-10-03", "Duolingo streak hit 100 days.")
# Facts that changed: the old line, then the new one.
fact("ana_new", "2026-11-10", "Ana moved to Braga for the new job at the university; the Cedofeita flat is gone.")
fact("rent_old", "2026-08-02", "Paid the rent, 920 euros.")
fact("rent_new", "2026-08-30", "Letter from Mr. Haddad: rent goes up to 980 euros from October.")
fact("manager_new", "2026-11-19", "Priya left Bluefin; my new manager is Daniel Costa.")
fact("dentist_old", "2026-08-09", "First visit to my new dentist, Dr. Okafor on Rua das Flores: two small cavities to fill.")
fact("dentist_new", "2026-10-27", "Switched dentists: Dr. Lima at Clínica Sorriso, closer to the office. Gums fine, floss more.")
fact("phone_old", "2026-08-12", "Switched my phone plan to Vodafone, 20 euros a month, unlimited data.")
fact("phone_new", "2026-11-01", "Moved my phone line from Vodafone to MEO, 15 euros a month.")
fact("gym_old", "2026-08-15", "Cancelled the Fitness Hut membership; climbing at Bloc Lab instead.")
fact("gym_new", "2026-10-22", "Bloc Lab is closed for renovation until spring, so I climb at Vertigo now.")
fact("car_old", "2026-09-03", "The Golf (2014) needs new brake pads, 180 euros at the garage.")
fact("car_new", "2026-11-14", "Sold the Golf and bought a used Renault Zoe, electric at last.")
fact("cello_new", "2026-10-16", "Cello lessons move to Monday evenings from next week, Irene's schedule changed.")
fact("locker_old", "2026-10-05", "Locker code at the climbing gym: 7319.")
fact("locker_new", "2026-11-20", "New locker at Vertigo, code 2286.")
fact("coffee_new", "2026-11-06", "Gave up coffee completely; green tea only from now on.")
fact("goal_old", "2026-08-07", "Running goal: 25 km a week.")
fact("goal_new", "2026-10-02", "Raised my running goal to 35 km a week for the half marathon block.")
fact("launch_old", "2026-08-19", "Kestrel launch set for 15 October.")
fact("launch_new", "2026-09-30", "Kestrel launch slipped to 12 November, the payments audit isn't done.")
fact("standup_old", "2026-08-05", "Standup moved to 9:45.")
fact("standup_new", "2026-10-12", "Standup is at 10:15 now, to suit the new hires in Toronto.")
fact("wifi_old", "2026-08-16", "Home wifi password is tangerine77.")
fact("wifi_new", "2026-11-09", "Changed the home wifi password to quokka-2026.")
fact("marta_old", "2026-08-21", "Marta is dating Luis, a nurse from her ward.")
fact("marta_new", "2026-10-25", "Marta and Luis split up; she's seeing Hugo, the architect, now.")
fact("lunch_old", "2026-09-06", "New favourite lunch place: Tasca do Zé, the daily soup is great.")
fact("lunch_new", "2026-11-16", "Tasca do Zé changed owners and got worse; I have lunch at Cantinho da Ribeira now.")
fact("club_old", "2026-09-12", "Book club meets on the first Wednesday of the month at Sofia's shop.")
fact("club_new", "2026-11-04", "Book club moves to the last Sunday of the month.")
fact("food_old", "2026-08-28", "Pebble eats Royal Canin kitten food, dry.")
fact("food_new", "2026-11-23", "The vet put Pebble on a renal diet: Hill's k/d only.")
fact("weight_old", "2026-08-10", "Weighed myself: 82 kg.")
fact("weight_new", "2026-11-26", "Down to 77 kg on the scale this morning.")
fact("bank_old", "2026-09-08", "Salary goes to the Millennium account.")
fact("bank_new", "2026-11-11", "Moved my salary to ActivoBank, no fees.")
fact("commute_old", "2026-08-17", "Commute by metro, 35 minutes door to door.")
fact("commute_new", "2026-10-06", "Commuting on the Brompton now, 20 minutes and no crowds.")
# Time anchors and what happened around them.
fact("lisbon_arrive", "2026-10-09", "Arrived in Lisbon with Rui, hotel in Alfama.")
fact("lisbon_museum", "2026-10-10", "Lisbon: the Gulbenkian museum in the morning, pastéis de Belém after.")
fact("lisbon_back", "2026-10-11", "Back from Lisbon, tired and happy.")
fact("kayak", "2026-10-03", "Kayaking on the Douro with Pedro, capsized once.")
fact("painted", "2026-10-17", "Painted the spare room sage green.")
fact("halfmarathon", "2026-11-01", "Ran the Porto half marathon in 1:52:10!")
fact("dayafter", "2026-11-02", "Legs destroyed. Ice bath, then the whole first season of Severance on the sofa.")
fact("carbload", "2026-10-31", "Carb-loading: mushroom risotto with Pedro, picked up race bib 2217.")
fact("vaccines", "2026-09-01", "Pebble's first checkup: vaccines done, she weighs 1.4 kg.")
fact("sept14", "2026-09-14", "Repotted the monstera and fixed the wobbly desk leg.")
fact("sept22", "2026-09-22", "Gave a talk on heron's ingestion pipeline at the Porto Codes meetup.")
fact("nils", "2026-09-19", "Concert: Nils Frahm at Casa da Música, unreal piano sound.")
fact("bonobo", "2026-11-13", "Concert: Bonobo at the Coliseu, danced all night.")
fact("serralves", "2026-11-07", "Walked through the Serralves museum and park with Sofia.")
fact("soares", "2026-08-29", "Visited the Soares dos Reis museum on a rainy afternoon.")
fact("birthday", "2026-10-14", "My birthday: dinner with Ana and Rui, they gave me a Kindle.")
fact("nov13", "2026-11-13", "Kestrel postmortem: the launch incidents came from a cold cache after deploy.")
fact("launched", "2026-11-12", "Kestrel is live! Three incidents in the first hour, all mitigated.")
fact("mondaylaunch", "2026-11-16", "Kestrel retro with Daniel's team, agreed to pre-warm caches on every deploy.")
fact("matosinhos", "2026-09-13", "Ran the Matosinhos 10K in 48:30.")
fact("boiler", "2026-10-24", "New boiler installed at last; hot showers are back.")
fact("scarf_bought", "2026-11-25", "Bought Mum's scarf at A Vida Portuguesa, dark green wool, 45 euros.")
fact("lock", "2026-10-17", "Bought a Kryptonite lock for the Brompton, 85 euros.")
fact("lucia_visit", "2026-10-04", "Visited Tom and baby Lucia, brought a knitted onesie.")
fact("a2exam", "2026-11-17", "Portuguese course: passed the mock exam with 78%.")
fact("japan", "2026-11-22", "Japan trip with Rui planned for April 2027: Tokyo, then Kyoto.")
fact("swan", "2026-11-29", "Picked my first cello recital piece: Saint-Saëns, The Swan.")
fact("ana_rec1", "2026-09-04", "Ana recommends Cantina Lusa for the bacalhau à Brás.")
fact("ana_rec2", "2026-10-21", "Ana swears by the ramen stall at Mercado do Bom Sucesso.")
fact("headache", "2026-11-03", "Migraine all afternoon, skipped climbing.")
fact("movie_oct", "2026-10-18", "Watched Past Lives at the Trindade cinema, cried.")

# Questions: type, text, evidence keys (all needed), stale key (a changed fact), the day
# the question is asked (for "yesterday", "last Tuesday").
Q = []


def q(kind, text, evidence=(), stale=None, asked="2026-12-01"):
    Q.append({"type": kind, "question": text, "evidence": list(evidence), "stale": stale, "asked": asked})


# Paraphrased: the question's words are not the note's.
q("paraphrase", "What did I name the kitten I took home?", ["pebble"])
q("paraphrase", "Who owns the flat I rent?", ["landlord"])
q("paraphrase", "Which instrument am I studying?", ["cello"])
q("paraphrase", "Who insures my vehicle?", ["insurance"])
q("paraphrase", "What is the name of Tom's baby girl?", ["lucia"])
q("paraphrase", "What supplement did the doctor tell me to take?", ["vitamin"])
q("paraphrase", "How much did I pay for the bicycle?", ["bike"])
q("paraphrase", "Which show did Rui suggest I listen to in the car?", ["podcast"])
q("paraphrase", "When do I switch teams at work?", ["teamchange"])
q("paraphrase", "Where am I taking language classes?", ["course"])
q("paraphrase", "When does my travel document run out?", ["passport"])
q("paraphrase", "What present would my mother like?", ["scarf"])
q("paraphrase", "Which dairy alternative do I use now?", ["lactose"])
q("paraphrase", "When do I fly out to visit my father?", ["flights"])
q("paraphrase", "How can I reach the guy who repaired the pipe?", ["plumber"])
q("paraphrase", "Does Marta have any food allergies I should know about?", ["peanuts"])
q("paraphrase", "What am I growing outside on the terrace?", ["balcony"])
q("paraphrase", "What did my boss suggest I do more of?", ["feedback"])
q("paraphrase", "Which novel is Sofia letting me borrow?", ["overstory"])
q("paraphrase", "How much will I get back from the tax office?", ["taxes"])
q("paraphrase", "What's my eyesight prescription?", ["glasses"])
q("paraphrase", "Do I eat meat?", ["@MEMORY.md:vegetarian"])
q("paraphrase", "Aisle or window when I fly?", ["@MEMORY.md:window seats"])
q("paraphrase", "What kind of food do I like best?", ["@MEMORY.md:Favourite cuisine"])
q("paraphrase", "Who did I get a sci-fi book from for the holidays?", ["hailmary"])
q("paraphrase", "Which book did I rate the best of the year?", ["piranesi"])
q("paraphrase", "What type of pet do I have?", ["pebble"])
q("paraphrase", "Is there anything wrong with my vitamin levels?", ["vitamin"])
q("paraphrase", "Who gave me an e-reader?", ["birthday"])
q("paraphrase", "What's wrong with the heron import?", ["ops4471"])
# Keyword: names, numbers, codes.
q("keyword", "cabin wifi password", ["cabin"])
q("keyword", "What's my Allianz policy number?", ["insurance"])
q("keyword", "kestrel-db-02 disk", ["disk"])
q("keyword", "OPS-4471", ["ops4471"])
q("keyword", "Which battery does the Chamberlain remote need?", ["garage"])
q("keyword", "lark v2.14.0 commit", ["lark"])
q("keyword", "Quinta da Aveleda", ["wedding"])
q("keyword", "library card number", ["library"])
q("keyword", "osprey staging URL", ["staging"])
q("keyword", "caldo verde recipe", ["caldo"])
q("keyword", "EDP customer number", ["edp"])
q("keyword", "Who is Pebble's vet?", ["vet"])
q("keyword", "CP-77120", ["train"])
q("keyword", "heron retro action items", ["retro"])
q("keyword", "INV-2026-031", ["invoice"])
q("keyword", "blood type", ["@MEMORY.md:Blood type"])
q("keyword", "emergency contact number", ["@MEMORY.md:Emergency contact"])
q("keyword", "nas ssh key", ["nas"])
q("keyword", "router admin page", ["router"])
q("keyword", "duolingo streak", ["duolingo"])
q("keyword", "When is Emma's wedding?", ["wedding"])
q("keyword", "Hardcore History", ["podcast"])
q("keyword", "Where is the Gerês cabin wifi?", ["cabin"])
q("keyword", "Matosinhos 10K time", ["matosinhos"])
q("keyword", "race bib number", ["carbload"])
# Facts that changed: the newer note must come first.
q("changed", "Where does my sister live these days?", ["ana_new"], "@MEMORY.md:My sister Ana lives")
q("changed", "Which city is Ana in now?", ["ana_new"], "@MEMORY.md:My sister Ana lives")
q("changed", "How much is my rent?", ["rent_new"], "rent_old")
q("changed", "Who is my manager?", ["manager_new"], "@MEMORY.md:My manager is")
q("changed", "Who do I report to at Bluefin?", ["manager_new"], "@MEMORY.md:My manager is")
q("changed", "Who is my dentist?", ["dentist_new"], "dentist_old")
q("changed", "Which mobile carrier am I with?", ["phone_new"], "phone_old")
q("changed", "Where do I go climbing?", ["gym_new"], "gym_old")
q("changed", "What car do I drive?", ["car_new"], "car_old")
q("changed", "Which day is my cello lesson?", ["cello_new"], "cello")
q("changed", "What's my locker code at the climbing gym?", ["locker_new"], "locker_old")
q("changed", "How much coffee do I drink?", ["coffee_new"], "@MEMORY.md:two coffees")
q("changed", "What's my weekly running goal?", ["goal_new"], "goal_old")
q("changed", "When does kestrel launch?", ["launch_new"], "launch_old")
q("changed", "What time is standup?", ["standup_new"], "standup_old")
q("changed", "What's the home wifi password?", ["wifi_new"], "wifi_old")
q("changed", "Who is Marta going out with?", ["marta_new"], "marta_old")
q("changed", "Where do I usually have lunch?", ["lunch_new"], "lunch_old")
q("changed", "When does the book club meet?", ["club_new"], "club_old")
q("changed", "What food does Pebble eat?", ["food_new"], "food_old")
q("changed", "How much do I weigh?", ["weight_new"], "weight_old")
q("changed", "Which bank does my salary go to?", ["bank_new"], "bank_old")
q("changed", "How do I get to work?", ["commute_new"], "commute_old")
q("changed", "What's my phone plan?", ["phone_new"], "phone_old")
q("changed", "Do I still climb at Bloc Lab?", ["gym_new"], "gym_old")
# Time: the date is in the question, or found from an event.
q("time", "What did I do the weekend before the Lisbon trip?", ["kayak"])
q("time", "How did I spend the day after the half marathon?", ["dayafter"])
q("time", "What did I eat the night before the half marathon?", ["carbload"])
q("time", "What did I do the weekend after I got back from Lisbon?", ["painted"])
q("time", "What did I write on 2026-09-14?", ["sept14"])
q("time", "What did I do on September 22nd?", ["sept22"])
q("time", "Which book did I finish in August?", ["piranesi"])
q("time", "What did I finish reading in October?", ["overstory_done"])
q("time", "Who came to fix something last Tuesday?", ["plumber"], asked="2026-11-30")
q("time", "What did I send yesterday?", ["invoice"], asked="2026-11-28")
q("time", "Which concert did I go to in September?", ["nils"])
q("time", "Which concert did I see in November?", ["bonobo"])
q("time", "Which museum did I visit last month?", ["lisbon_museum"], asked="2026-11-30")
q("time", "What did the vet change this week?", ["food_new"], asked="2026-11-26")
q("time", "What happened at work on 13 November?", ["nov13"])
q("time", "What did we agree on the Monday after the kestrel launch?", ["mondaylaunch"])
q("time", "What did I do on the 3rd of October?", ["kayak"])
q("time", "Which museum did I go to in August?", ["soares"])
q("time", "What happened with Pebble the week after I adopted her?", ["vaccines"])
q("time", "What movie did I watch the day after painting the spare room?", ["movie_oct"])
q("time", "What was I doing on 2026-10-10?", ["lisbon_museum"])
q("time", "What did I buy last Wednesday?", ["scarf_bought"], asked="2026-11-30")
q("time", "How was I feeling the day after I changed my phone line?", ["dayafter"])
q("time", "What did I do two days before my birthday?", ["standup_new"])
q("time", "What happened on 4 October?", ["lucia_visit"])
q("time", "What did I note on November 29th?", ["swan"])
q("time", "What did I decide three days ago?", ["invoice"], asked="2026-11-30")
q("time", "Which talk did I give in September?", ["sept22"])
q("time", "What did I do the day before the Lisbon trip?", ["@2026-10-08"])
q("time", "What did I write down on 21 August?", ["marta_old"])
# Two days' notes are needed.
q("multi", "Which two restaurants did Ana recommend?", ["ana_rec1", "ana_rec2"])
q("multi", "How much did the bike and its lock cost together?", ["bike", "lock"])
q("multi", "Which concerts did I go to this autumn?", ["nils", "bonobo"])
q("multi", "Which books have I finished since August?", ["piranesi", "overstory_done"])
q("multi", "What did each of my dentists say about my teeth?", ["dentist_old", "dentist_new"])
q("multi", "Which races did I run this year, and my times?", ["matosinhos", "halfmarathon"])
q("multi", "Who promised a new boiler and when did it finally get installed?", ["landlord", "boiler"])
q("multi", "Who has lent me books lately?", ["hailmary", "overstory"])
q("multi", "Did I get my mother the present she wanted?", ["scarf", "scarf_bought"])
q("multi", "When was Tom's baby born and what did I bring when I visited?", ["lucia", "lucia_visit"])
q("multi", "What went wrong with the kestrel launch and why?", ["launched", "nov13"])
q("multi", "Where is my language course and how did the mock exam go?", ["course", "a2exam"])
q("multi", "When is the Japan trip and what must I sort out before it?", ["japan", "passport"])
q("multi", "What's my cello teacher's name and what piece am I preparing?", ["cello", "swan"])
q("multi", "What museums did I visit in Lisbon and in Porto in November?", ["lisbon_museum", "serralves"])
q("multi", "Which vet does Pebble see and what diet is she on now?", ["vet", "food_new"])
q("multi", "What was my half marathon time and what was my bib number?", ["halfmarathon", "carbload"])
q("multi", "What did the Lisbon train cost me in booking and where did we stay?", ["train", "lisbon_arrive"])
q("multi", "How has my weight changed since August?", ["weight_old", "weight_new"])
q("multi", "What are Marta's allergy and her new boyfriend's name?", ["peanuts", "marta_new"])
# Nothing in memory answers these.
for text in [
    "What's my brother's name?",
    "When is Rui's birthday?",
    "What's the password for the office VPN?",
    "Which hotel did I stay at in Madrid?",
    "What is Pedro's phone number?",
    "How much did my new laptop cost?",
    "What did the cardiologist say?",
    "What's my dog called?",
    "When is my next haircut?",
    "Which airline did I take to Berlin?",
    "What's the Netflix password?",
    "How far did I cycle in the Alps?",
    "What did I think of the Taylor Swift concert?",
    "Who won the office chess tournament?",
    "What's the name of my daughter's school?",
    "When does my driving licence expire?",
    "Where did I park at the airport?",
    "What's my French teacher's name?",
    "What did I cook for Thanksgiving?",
    "How much is my mortgage payment?",
    "Which yoga class do I take on Saturdays?",
    "What's the capital of Australia?",
    "What did my therapist recommend?",
    "Which wine did we drink at Emma's wedding?",
    "What's the serial number of my television?",
]:
    q("unanswerable", text)

# Everyday lines: the crowd the facts hide in.
NAMES = ["Ana", "Rui", "Marta", "Tom", "Sofia", "Pedro", "Priya", "Daniel", "Irene", "Hugo"]
PLACES = ["Porto", "Matosinhos", "Foz", "Gaia", "Braga", "Aveiro", "Lisbon", "Guimarães"]
PROJECTS = ["kestrel", "heron", "lark", "osprey"]
FOODS = ["lentil soup", "a mushroom risotto", "veggie burgers", "a chickpea curry", "pizza", "ramen", "francesinha without meat", "a big salad"]
FILLER = [
    "Standup: {project} is on track, I'm picking up the {project} pagination bug.",
    "Code review for {name} on {project}; left a few comments about error handling.",
    "Long meeting about the {project} roadmap, nothing decided.",
    "Pair-programmed with {name} on the {project} migration.",
    "Deployed {project} to staging, smoke tests green.",
    "On call for {project} this week, quiet so far.",
    "Lunch with {name} near the office, had {food}.",
    "Cooked {food} for dinner.",
    "Groceries at the market in {place}, {n}0 euros.",
    "Coffee with {name} in {place}, talked about their new job.",
    "Called {name}, caught up for an hour.",
    "{name} sent photos from {place}.",
    "Ran {k} km by the river, easy pace.",
    "Climbing session, sent two new problems.",
    "Rest day, stretched and slept early.",
    "Walked Pebble's new toy around the flat, she ignored it.",
    "Rainy day, stayed in and read.",
    "Read a few chapters before bed.",
    "Watched an episode of The Bear.",
    "Cleaned the flat and did the laundry.",
    "Paid the electricity bill.",
    "Trip to IKEA in {place} for shelves.",
    "Dinner at {name}'s place in {place}.",
    "Weather turned, first cold morning.",
    "Sunny afternoon, walked along the Foz promenade.",
    "Fixed a flaky test in {project}; a race between two workers.",
    "Wrote the design doc for the {project} retry logic.",
    "Sprint planning: {n} tickets for {project}.",
    "Interviewed a candidate for the {project} team with {name}.",
    "1:1 with {name}, mostly about the roadmap.",
    "Played chess with {name}, lost twice.",
    "Board games at {name}'s, Wingspan again.",
    "Train to {place} for the day, back by nine.",
    "Picked up a parcel at the post office.",
    "Headache in the evening, early night.",
    "Tried a new bakery in {place}.",
    "Practised Portuguese verbs for twenty minutes.",
    "Bought flowers for the table.",
    "Took the recycling down, finally.",
    "Backed up the laptop to the NAS.",
]


def filler(day_index):
    line = rng.choice(FILLER)
    return line.format(
        name=rng.choice(NAMES), place=rng.choice(PLACES), project=rng.choice(PROJECTS),
        food=rng.choice(FOODS), n=rng.randint(2, 9), k=rng.randint(5, 14),
    )


def write():
    by_day = {}
    for key, (date, text) in F.items():
        by_day.setdefault(date, []).append(text)
    os.makedirs(os.path.join(HERE, "memory"), exist_ok=True)
    for name in os.listdir(os.path.join(HERE, "memory")):
        os.remove(os.path.join(HERE, "memory", name))
    with open(os.path.join(HERE, "MEMORY.md"), "w") as out:
        out.write(MEMORY_MD)
    day = START
    index = 0
    while day <= END:
        index += 1
        facts = by_day.get(day, [])
        # Some days without a fact have no log at all, as in life.
        if not facts and rng.random() < 0.12:
            day += datetime.timedelta(days=1)
            continue
        lines = [filler(index) for _ in range(rng.randint(2, 5))] + facts
        rng.shuffle(lines)
        entries = []
        minute = rng.randint(7 * 60, 9 * 60)
        while lines:
            take = min(len(lines), rng.randint(1, 3))
            session = "%04x" % rng.randrange(16 ** 4)
            body = "\n".join("- " + line for line in lines[:take])
            lines = lines[take:]
            entries.append("## %02d:%02d · session %s\n%s\n" % (minute // 60, minute % 60, session, body))
            minute = min(minute + rng.randint(40, 200), 23 * 60 + 50)
        with open(os.path.join(HERE, "memory", "%s.md" % day), "w") as out:
            out.write("# %s\n\n%s" % (day, "\n".join(entries)))
        day += datetime.timedelta(days=1)

    def place(key):
        if key.startswith("@MEMORY.md:"):
            return {"path": "MEMORY.md", "text": key.split(":", 1)[1]}
        if key.startswith("@"):
            return {"path": "memory/%s.md" % key[1:], "text": None}
        date, text = F[key]
        return {"path": "memory/%s.md" % date, "text": text[:40]}

    questions = []
    for number, item in enumerate(Q, 1):
        questions.append({
            "id": number,
            "type": item["type"],
            "question": item["question"],
            "asked": item["asked"],
            "evidence": [place(key) for key in item["evidence"]],
            "stale": place(item["stale"]) if item["stale"] else None,
        })
    with open(os.path.join(HERE, "questions.json"), "w") as out:
        json.dump(questions, out, indent=1, ensure_ascii=False)
        out.write("\n")
    counts = {}
    for item in questions:
        counts[item["type"]] = counts.get(item["type"], 0) + 1
    logs = len(os.listdir(os.path.join(HERE, "memory")))
    print("%d daily logs, %d questions: %s" % (logs, len(questions), counts))


write()
