"""Texts for the unseen-voices interview set (scripts/synth_interviews.py): other subjects and phrasing
than the demo corpus, so nothing in it was tuned on them."""

LONG = [s.strip() for s in """
We sailed out of the harbour before dawn, and by noon the coast had vanished behind us.
The old lighthouse keeper kept a log of every storm for forty years.
Navigating by the stars is slower than a satellite, but it never runs out of battery.
A good crew learns to sleep in two hour shifts without complaining.
The bees in the upper field produce a darker honey because of the heather.
Every spring we split the strongest hives so that they do not swarm.
A queen can lay nearly two thousand eggs on a warm summer day.
Smoke calms the colony, but too much of it ruins the flavour of the comb.
Mountain rescue teams train in the worst weather on purpose.
Most accidents on the ridge happen on the way down, when people are tired.
Carry a map and a compass even if your phone claims to know the way.
The helicopter can only fly when the cloud lifts above the summit.
Sourdough needs patience more than skill, and a warm corner of the kitchen.
Our bakery starts mixing dough at three in the morning, six days a week.
A hotter oven gives the crust that deep colour and the crackle people love.
Rye flour behaves nothing like wheat, so the old recipes need adjusting.
The cathedral took more than two centuries to finish, and no builder saw it complete.
Stone masons left small marks on each block so they would be paid for their work.
The town walls were taken down when the railway arrived in the eighteen sixties.
Walking tours of the old quarter are busiest in the late afternoon.
On a clear night far from the city you can see the band of the galaxy.
Saturn's rings are visible even through a modest backyard telescope.
Comets brighten as they approach the sun and grow a tail pointing away from it.
Most of the stars you see with your eyes are within a few hundred light years.
The orchestra rehearsed the second movement until the strings played as one.
A violin made from well aged spruce can sound brighter after years of playing.
Conductors read every part of the score at once, which still amazes me.
The concert hall was designed so that a whisper on stage reaches the back row.
The river floods almost every winter, so the farmhouses stand on raised ground.
Salmon return to the stream where they hatched, often after years at sea.
Beavers changed the whole valley within a decade of being reintroduced.
We measure the water temperature every morning at the same bridge.
Chess players at the top level study openings for hours every single day.
A single blunder in the endgame can undo an entire afternoon of careful play.
The club meets on Thursday evenings in the back room of the library.
Younger players often calculate faster, but experience wins the long games.
The railway through the pass climbs more than a thousand metres in twenty miles.
Engineers blasted tunnels through the rock using little more than hand drills.
Night trains are coming back because people want to travel without flying.
The station clock was set by telegraph signals from the observatory.
The museum restored the painting by removing layers of yellowed varnish.
Under infrared light the restorers found an earlier sketch beneath the paint.
Some pigments fade in sunlight, which is why the galleries are kept dim.
The archive holds letters from the artist to his sister spanning fifty years.
Glaciers in the northern range have retreated by several kilometres since records began.
Researchers drill ice cores to read the climate of thousands of years ago.
Each layer in the core is like a page in a very long diary.
The meltwater lake at the foot of the glacier grows a little every summer.
""".strip().splitlines()]

QUESTIONS = [s.strip() for s in """
How did you first get involved in all of this?
What surprised you most when you started out?
Can you walk us through an ordinary day?
What is the biggest mistake beginners make?
Where do you think this is heading in the next ten years?
What would you tell someone who wants to try it this weekend?
Was there a moment when you almost gave up?
Who taught you the most along the way?
How has the work changed since you began?
What do people usually get wrong about it?
""".strip().splitlines()]

SHORT = [s.strip() for s in """
That makes sense.
Really? I had no idea.
Absolutely.
Go on.
Interesting.
Right, exactly.
Wow, that is a lot.
I see.
Fair enough.
Tell me more.
No way.
Of course.
""".strip().splitlines()]

ENROLL = [s.strip() for s in """
Hello and welcome, thank you for joining me for another conversation.
Before we begin, a quick word about how this series works.
I have been looking forward to this one for a long time.
If you enjoy these episodes, please pass them on to a friend.
Let us start with a little background for anyone who is new.
That is all we have time for today, thank you for listening.
Send me your questions and I will try to answer them next week.
My guest today has spent most of a lifetime on this subject.
""".strip().splitlines()]
