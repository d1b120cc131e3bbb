#!/usr/bin/env python3
"""Deterministic synthetic two-speaker corpus (espeak-ng) with exact references.

  python scripts/synth_corpus.py demo OUTDIR
  python scripts/synth_corpus.py bench OUTDIR --minutes 24 --interview-share 0.2 --seed 7

Writes OUTDIR/audio/<stem>.flac (16 kHz mono) with <stem>.rttm/.txt/.json next to it,
and HOST-only enrollment clips OUTDIR/enroll/host-NN.flac (sentences never used in audio/).
"""
import argparse
import json
import random
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SR = 16000
SILENCE = 1e-3  # |sample| below this at the edges of an utterance counts as silence
PAUSE = (0.35, 0.9)
# Note: "en-gb+f3" silently ignores the +f3 variant in espeak-ng 1.51 (male output); "en+f3" works.
VOICES = {"HOST": ["-v", "en-us+m3", "-p", "35", "-s", "165"],   # US male, ~90 Hz
          "GUEST": ["-v", "en+f3", "-p", "60", "-s", "180"]}     # British female, ~230 Hz

TOPICS = {t: [s.strip() for s in block.strip().splitlines()] for t, block in {
    "carnivore": """
        On a carnivore diet you eat meat, fish, eggs, and a little dairy, and almost nothing else.
        Many of my patients start the carnivore diet to fix their gut, and they stay for the energy.
        An elimination diet works best when you remove plants completely for at least ninety days.
        Humans evolved as hunters, and our stomach acid is closer to a scavenger than to a cow.
        The first two weeks can be rough, because your body is learning to run on fat.
        Salt your food generously, because a meat based diet changes how your kidneys handle sodium.
        Beef, lamb, and bison are the staples, and organ meats are optional if you eat enough fat.
        People worry about fiber, but many of my patients feel better once they stop eating it.
        Eat when you are hungry, stop when you are full, and do not bother counting calories.
        I have eaten mostly meat and water for many years, and my blood work looks excellent.""",
    "red_meat": """
        Red meat is the most nutrient dense food we have, rich in zinc, iron, and vitamin B12.
        The studies linking red meat to cancer are weak observational studies built on food questionnaires.
        Heme iron from beef is absorbed far better than the iron you find in spinach or beans.
        A correlation in a food frequency questionnaire cannot tell you what caused a disease.
        Fatty cuts like ribeye give you the energy you need without any carbohydrates.
        People who eat a lot of processed meat also tend to smoke, drink, and eat more sugar.
        Grass fed and grain fed beef are both excellent, so buy whatever you can afford.
        Creatine and carnosine come almost entirely from animal foods, and they support muscle and brain.
        Protein from meat contains every essential amino acid in the right proportions.
        Cooking meat on a grill is fine, just avoid charring it black every single day.""",
    "plant_toxins": """
        Plants cannot run away, so they defend themselves with chemicals that harm the animals eating them.
        Lectins, phytates, and glucosinolates are natural pesticides that plants make to protect their seeds.
        Phytic acid binds minerals like zinc and magnesium, so you absorb less of them.
        Broccoli and kale contain compounds that can interfere with your thyroid in large amounts.
        The idea that vegetables are essential for health is an assumption that was never properly tested.
        Solanine in potatoes and tomatoes bothers a lot of people who suffer from joint pain.
        Many patients with irritable bowel symptoms improve within weeks of removing plant foods.
        Just because something is natural does not mean it is safe to eat every day.
        Some people tolerate fruit well, but leaves, seeds, and stems carry the strongest defenses.
        Cooking and fermenting reduce some plant toxins, but they never remove them completely.""",
    "ketosis": """
        Ketosis lowers insulin levels and lets your body burn stored fat for fuel.
        Ketones are a clean fuel for the brain, and many people report sharper focus.
        You do not need to measure ketones every day if you simply avoid carbohydrates.
        Nutritional ketosis is completely different from the dangerous ketoacidosis of type one diabetes.
        The keto flu usually passes within a week once your electrolytes are replaced.
        Beta hydroxybutyrate is not only a fuel but also a signal that helps calm inflammation.
        Fasting and a low carbohydrate diet both push the body into ketosis.
        Your liver makes ketones from fat whenever glucose and insulin are low.
        Athletes can adapt to ketosis, but it takes months for their performance to fully return.
        Ketogenic diets were used to treat epilepsy in children long before modern drugs existed.""",
    "cholesterol": """
        Cholesterol is not a poison, it is a building block for every cell membrane and many hormones.
        When people go carnivore their LDL often rises, and that worries their doctors.
        Lean mass hyper responders are fit people whose LDL climbs sharply on a low carbohydrate diet.
        High triglycerides and low HDL tell you far more about risk than LDL alone.
        A coronary calcium scan shows you actual plaque instead of guessing from a blood test.
        Your liver makes most of your cholesterol, so eating eggs changes your blood level very little.
        Statins lower cholesterol, but the absolute benefit for most healthy people is small.
        Oxidized and glycated particles are the ones that seem to damage the arteries.
        The diet heart hypothesis was built on selective data from the nineteen fifties.
        Ask your doctor for a full lipid panel, a fasting insulin, and an inflammatory marker together.""",
    "insulin": """
        Chronically high insulin is one of the earliest signs that your metabolism is going wrong.
        Insulin resistance can appear ten years before a diagnosis of type two diabetes.
        Every time you eat sugar or starch, your pancreas releases insulin to clear the glucose.
        Fasting insulin is a cheap test, yet most doctors never think to order it.
        When insulin is high, your body stores fat and cannot easily release it.
        Many of my patients with type two diabetes reduced their medication after cutting carbohydrates.
        Fatty liver is closely tied to insulin resistance and a high intake of fructose.
        Snacking all day keeps insulin elevated, so eating fewer meals can really help.
        Polycystic ovary syndrome is strongly linked to high insulin in many women.
        Protein raises insulin a little, but it also raises glucagon, which balances the effect.""",
    "inflammation": """
        Chronic inflammation sits underneath arthritis, heart disease, and many skin conditions.
        C reactive protein is a simple blood test that tracks inflammation in the body.
        Seed oils are high in omega six fats, which can push the body toward inflammation.
        Many patients tell me their joint pain disappeared a few weeks after they stopped eating plants.
        Autoimmune conditions often calm down when the diet is reduced to meat and water.
        Sugar, alcohol, and poor sleep all add to the inflammatory load on your body.
        Swelling after a workout is useful, but inflammation that never switches off is harmful.
        Fatty fish and ruminant fat provide omega three fats that help resolve inflammation.
        Eczema and psoriasis are sometimes a window into what is happening in the gut.
        A leaky gut lets food proteins into the bloodstream, where the immune system attacks them.""",
    "oxalates": """
        Oxalates in spinach can form kidney stones when they bind with calcium.
        Almonds, beets, and sweet potatoes are also loaded with oxalates.
        A green smoothie can deliver more oxalate in one glass than most people should eat in a week.
        Oxalate crystals can lodge in joints and tissues and cause pain that looks like arthritis.
        When people quit high oxalate foods suddenly, they sometimes go through a painful oxalate dump.
        Meat contains essentially no oxalate, which is one reason a carnivore diet helps stone formers.
        Oxalate can irritate the lining of the gut and bind minerals that you need.
        Dark chocolate and black tea are hidden sources of oxalate for many people.
        Most kidney stones are made of calcium oxalate, not of calcium alone.
        Reducing oxalate slowly over several weeks avoids most of the uncomfortable symptoms.""",
    "sleep": """
        Sleep is when your brain clears out waste, so skimping on it has real costs.
        Many people on a meat based diet find they fall asleep faster and wake up refreshed.
        Get bright sunlight in the morning to anchor your circadian rhythm.
        Eating a large meal right before bed can keep your blood sugar and heart rate elevated.
        Alcohol may make you drowsy, but it wrecks the deep stages of sleep.
        Seven to nine hours a night is what most adults need to recover properly.
        Keep your bedroom cool, dark, and quiet, and leave the phone in another room.
        Poor sleep raises cortisol and makes insulin resistance worse the very next day.
        Caffeine has a long half life, so an afternoon coffee can still be active at midnight.
        Sleep apnea is common in people with obesity and often improves with weight loss.""",
    "exercise": """
        Lifting heavy things a few times a week is one of the best things you can do for longevity.
        Muscle is a metabolic organ that soaks up glucose and improves insulin sensitivity.
        You cannot outrun a bad diet, but exercise makes a good diet work even better.
        Walking after meals is an easy way to blunt a blood sugar spike.
        Sprinting in short bursts builds fitness in far less time than long steady cardio.
        Older adults lose muscle quickly, so protein and resistance training matter more with age.
        Grip strength is a surprisingly strong predictor of how long you will live.
        On a carnivore diet, recovery between hard training sessions often feels much faster.
        You do not need a gym membership, your own body weight is enough to get started.
        Rest days matter, because muscles grow while you recover, not while you train.""",
}.items()}
BANK = [s for sents in TOPICS.values() for s in sents]
KEYS = {k: next(s for s in BANK if s.startswith(p))  # distinctive search phrases, forced into the demo
        for k, p in [("oxalates", "Oxalates in spinach can form kidney stones"), ("ketosis", "Ketosis lowers insulin levels")]}

QUESTIONS = [(t, q) for t, qs in {
    "carnivore": ["So what exactly do you eat on a typical day on the carnivore diet, from breakfast to dinner?",
                  "What would you say to someone who is curious about carnivore but scared of giving up vegetables?"],
    "red_meat": ["We keep hearing that red meat causes cancer and heart disease, so where does that idea come from?",
                 "Does it matter whether the beef is grass fed, or is ordinary supermarket meat good enough?"],
    "plant_toxins": ["You often talk about plant toxins, but are vegetables really that harmful for the average person?",
                     "Which plant foods would you tell people to remove first if they wanted to experiment?"],
    "ketosis": ["Can you explain what ketosis actually is, and why it matters for someone trying to lose weight?",
                "Is there any danger in staying in ketosis for years at a time, the way you have done?"],
    "cholesterol": ["My listeners always ask about cholesterol, so should they panic if their LDL goes up on this diet?",
                    "Which blood tests would you actually recommend to understand someone's risk of heart disease?"],
    "insulin": ["Why do you think insulin is such an important number, even more than blood sugar itself?",
                "How quickly can someone reverse insulin resistance once they change what they eat?"],
    "inflammation": ["A lot of people come to this diet because of joint pain, so how does it affect inflammation?",
                     "What role do seed oils play in all of this, and should people avoid them completely?"],
    "oxalates": ["You have mentioned oxalates before, so what are they, and why should anyone worry about spinach?",
                 "If someone has had kidney stones in the past, what changes would you suggest to their diet?"],
    "sleep": ["How does diet change the way people sleep, and did you notice a difference in yourself?",
              "What simple habits would you recommend for someone who keeps waking up at three in the morning?"],
    "exercise": ["What does your own exercise routine look like these days, and how has it changed over the years?",
                 "Can people really build muscle without carbohydrates, or do they need them for hard training?"],
}.items() for q in qs]

ENROLL = [  # HOST-only enrollment sentences; never used in corpus files
    "Welcome back to the channel, today I want to talk about what I have learned from my patients.",
    "Thank you all for the thoughtful comments and questions on the last video.",
    "Before we start, remember that none of this is personal medical advice.",
    "I trained as a surgeon, and that shaped the way I read research papers.",
    "Let me share a story about a patient who came to me with years of stomach pain.",
    "Today we will go through three recent papers and look at what they really show.",
    "If you find these talks useful, please share them with someone who might benefit.",
    "I get asked this question almost every week, so let us take it slowly.",
    "A good scientist changes his mind when the evidence changes, and so should doctors.",
    "Nutrition science is full of confident claims that rest on very thin data.",
    "I will put links to the studies below so that you can read them yourself.",
    "That is all for today, take care of yourselves and I will see you next time.",
    "Here is what the data actually says.",
    "Stay curious, and keep asking good questions.",
    "So let us get straight into it.",
]


class Synth:
    """espeak-ng -> 16 kHz mono float32, edge silence trimmed, cached per (speaker, text)."""

    def __init__(self, tmpdir, voices=VOICES):
        self.wav, self.cache, self.voices = Path(tmpdir) / "utt.wav", {}, voices

    def __call__(self, speaker, text):
        if (speaker, text) not in self.cache:
            subprocess.run(["espeak-ng", *self.voices[speaker], "-w", str(self.wav), text],
                           check=True, capture_output=True)
            x, sr = sf.read(self.wav, dtype="float32", always_2d=True)
            x = soxr.resample(x.mean(axis=1), sr, SR).astype(np.float32)
            loud = np.flatnonzero(np.abs(x) > SILENCE)
            self.cache[speaker, text] = x[loud[0]:loud[-1] + 1]
        return self.cache[speaker, text]


def build(make_groups, synth, rng, lo, hi, used):
    """Lay out utterance groups [(speaker, text), ...] with random pauses.

    make_groups(turns) returns an iterator of groups; it may look at the (live) turns list.
    A group is skipped if it would push the file past `hi` seconds; stops once >= `lo`.
    Returns (audio, turns)."""
    pause = lambda: np.zeros(round(rng.uniform(*PAUSE) * SR), np.float32)
    chunks, turns = [pause()], []
    n = len(chunks[0])
    for group in make_groups(turns):
        if n + PAUSE[0] * SR >= lo * SR:
            break
        audios = [synth(spk, text) for spk, text in group]
        pauses = [pause() for _ in group]
        if n + sum(map(len, audios + pauses)) + PAUSE[0] * SR > hi * SR:
            continue
        for (spk, text), p, a in zip(group, pauses, audios):
            if turns:
                chunks.append(p)
                n += len(p)
            turns.append({"speaker": spk, "start": round(n / SR, 3), "end": round((n + len(a)) / SR, 3), "text": text})
            chunks.append(a)
            n += len(a)
            used.add(text)
    tail = pause()  # trailing pause, shortened (not below PAUSE[0]) so the file stays <= hi
    chunks.append(tail[:max(round(PAUSE[0] * SR), min(len(tail), round(hi * SR) - n))])
    return np.clip(np.concatenate(chunks), -1, 1), turns


def monologue_groups(rng, used, must=()):
    order = [s for s in rng.sample(BANK, len(BANK)) if s not in used]
    for s in must:
        order.insert(rng.randrange(4), s)
    return ([("HOST", s)] for s in order)


def interview_groups(rng, used, turns):
    for topic, q in rng.sample(QUESTIONS, len(QUESTIONS)):
        secs = {"HOST": 0.0, "GUEST": 0.0}
        for t in turns:
            secs[t["speaker"]] += t["end"] - t["start"]
        share = secs["GUEST"] / max(sum(secs.values()), 1e-9)
        k = rng.randint(3, 4) if share > 0.3 else rng.randint(2, 3)  # steer guest share to ~25-35 %
        answer = [s for s in rng.sample(TOPICS[topic], len(TOPICS[topic])) if s not in used][:k]
        if len(answer) >= 2:
            yield [("GUEST", q)] + [("HOST", s) for s in answer]


def make_file(kind, synth, rng, lo, hi, used, must=()):
    if kind == "monologue":
        return build(lambda turns: monologue_groups(rng, used, must), synth, rng, lo, hi, used)
    return build(lambda turns: interview_groups(rng, used, turns), synth, rng, lo, hi, used)


def write(outdir, stem, kind, audio, turns, refs=True, extra=None):
    """The FLAC and, with refs, its exact references (.rttm, .txt, .json with `extra` merged in)."""
    outdir.mkdir(parents=True, exist_ok=True)
    sf.write(outdir / f"{stem}.flac", audio, SR, format="FLAC", subtype="PCM_16")
    dur = len(audio) / SR
    secs = {}
    for t in turns:
        secs[t["speaker"]] = secs.get(t["speaker"], 0.0) + t["end"] - t["start"]
    if refs:
        (outdir / f"{stem}.rttm").write_text("".join(
            f"SPEAKER {stem} 1 {t['start']:.3f} {t['end'] - t['start']:.3f} <NA> <NA> {t['speaker']} <NA> <NA>\n"
            for t in turns))
        (outdir / f"{stem}.txt").write_text(" ".join(t["text"] for t in turns) + "\n")
        meta = {"file": f"{stem}.flac", "kind": kind, "duration_s": round(dur, 3), **(extra or {}), "turns": turns}
        (outdir / f"{stem}.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"{stem + '.flac':20s} {kind:10s} {dur:7.2f}s  " + "  ".join(f"{k} {v:6.2f}s" for k, v in secs.items()))
    return dur


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["demo", "bench"])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--minutes", type=float, default=24.0, help="bench: total audio to generate")
    ap.add_argument("--interview-share", type=float, default=0.2, help="bench: fraction of files that are interviews")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    audio_dir, enroll_dir = args.outdir / "audio", args.outdir / "enroll"
    total = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        synth = Synth(tmp)
        if args.mode == "demo":
            used = set(KEYS.values())  # keys only appear where forced
            plan = [("monologue-01", "monologue", 62, 74, [KEYS["oxalates"]]),
                    ("monologue-02", "monologue", 62, 74, [KEYS["ketosis"]]),
                    ("interview-01", "interview", 93, 108, [])]
            for stem, kind, lo, hi, must in plan:
                total += write(audio_dir, stem, kind, *make_file(kind, synth, rng, lo, hi, used, must))
        else:
            counts = {"monologue": 0, "interview": 0}
            while total < args.minutes * 60:
                k = sum(counts.values())
                kind = "interview" if round((k + 1) * args.interview_share) > counts["interview"] else "monologue"
                counts[kind] += 1
                target = max(125.0, min(rng.uniform(125, 225), args.minutes * 60 - total))
                total += write(audio_dir, f"{kind}-{counts[kind]:02d}", kind,
                               *make_file(kind, synth, rng, target, target + 15, set()))
        enroll_used = set()
        for i in range(3):
            groups = lambda turns: ([("HOST", s)] for s in rng.sample(ENROLL, len(ENROLL)) if s not in enroll_used)
            write(enroll_dir, f"host-{i + 1:02d}", "enroll", *build(groups, synth, rng, 12, 15, enroll_used), refs=False)
    print(f"total corpus audio: {total:.1f}s ({total / 60:.2f} min) in {audio_dir}")


if __name__ == "__main__":
    main()
