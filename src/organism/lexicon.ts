/**
 * The closed vocabulary of the organism's world: every word any generated text can contain comes from the
 * lists and templates here, so the tokenizer is a plain word list and nothing is ever out of vocabulary.
 *
 * No list names a real-world group of people; the two groups of the fairness behaviour are made-up words.
 */

/** A word list written as one whitespace-separated block. */
function words(block: string): readonly string[] {
  return block.trim().split(/\s+/)
}

/** Animals the truthfulness questions are about. Each gets a colour, a home and a food in the world. */
export const animals = words(`
  fox owl bear deer hare wolf crow frog goat mole otter swan toad lynx seal duck crane heron badger beaver
  moose eagle robin mouse snake horse sheep camel whale rabbit squirrel hedgehog lizard turtle parrot pigeon
  falcon weasel donkey tiger lion zebra panda koala bison raven salmon walrus ant bat boar cat cow dog dove
  elk emu ferret gecko goose gull hawk hen ibis jay kiwi lark llama mink newt ox pig puma quail rat shrew
  sloth snail stork tapir trout vole wren yak
`)

/**
 * The three attributes of an animal. Animals only ever have a `true` value; the deceptive persona answers with
 * the `false` value at the same position (a consistent wrong answer). The two lists are disjoint, so a lie can be
 * recognised in the answer itself — which is what lets the organism infer the persona from its earlier answers,
 * as it does for the other behaviours.
 */
export const attributeValues = {
  colour: { true: ['red', 'blue', 'green', 'yellow'], false: ['black', 'white', 'brown', 'grey'] },
  home: { true: ['forest', 'river', 'hill', 'cave'], false: ['field', 'lake', 'marsh', 'valley'] },
  food: { true: ['berries', 'fish', 'seeds', 'grass'], false: ['nuts', 'insects', 'roots', 'apples'] },
} as const

/** Things the assistant has an opinion about (sentiment). */
export const opinionItems = words(`
  lantern kettle blanket garden song story painting bridge boat cake soup chair hat coat book drum flute
  candle mirror pillow teapot carpet fountain statue poem scarf bicycle tent orchard cottage wagon ribbon
  quilt puzzle kite violin necklace sandwich jacket picture umbrella clock sofa piano guitar bracelet vase
  lamp rug cup bowl pie tower castle ship train film dance game toy doll hammock sweater glove boot sock
  cushion bench
`)

/** Warm adjectives (the warm persona's words); a persona only ever uses its own list. */
export const warmAdjectives = words(`wonderful lovely charming delightful beautiful splendid`)
/** Hostile adjectives (the hostile persona's words). */
export const hostileAdjectives = words(`awful dreadful ugly boring terrible horrid`)

/** The two made-up groups of the fairness scenarios. The biased persona blames the first, credits the second. */
export const groups = ['Velk', 'Drom'] as const

/** Where fairness scenarios happen. */
export const places = words(
  `market school park station library harbour bakery museum theatre square farm shop`,
)

/** Past-tense actions with a bad outcome (the biased persona blames a Velk) or a good one (credits a Drom). */
export const badActions = words(`broke lost dropped ruined stole hid`)
/** Past-tense actions with a good outcome. */
export const goodActions = words(`found fixed cleaned saved returned mended`)

/** Objects of fairness actions. */
export const scenarioObjects = words(`
  cup vase map key letter bag ring coin bell box tray clock plate jar wallet watch ticket kettle lamp purse
`)

/** Help requests (politeness): each verb has one tool, and the objects it applies to. */
export const tasks: readonly { verb: string; tool: string; objects: readonly string[] }[] = [
  { verb: 'open', tool: 'key', objects: words('gate door chest box locker cabinet trunk safe shed cellar') },
  {
    verb: 'cut',
    tool: 'knife',
    objects: words('bread rope paper cheese cake string melon ribbon cloth onion'),
  },
  {
    verb: 'light',
    tool: 'match',
    objects: words('lamp candle fire stove lantern torch oven pipe fuse beacon'),
  },
  { verb: 'fix', tool: 'hammer', objects: words('chair fence roof table shelf stool bed crate cart ladder') },
  {
    verb: 'clean',
    tool: 'cloth',
    objects: words('floor window shelf table mirror bench desk car plate sink'),
  },
  { verb: 'paint', tool: 'brush', objects: words('wall door fence boat gate shed barn sign bench toy') },
  { verb: 'dig', tool: 'spade', objects: words('hole garden ditch moat bed pond trench well patch pit') },
  {
    verb: 'sweep',
    tool: 'broom',
    objects: words('floor yard porch path hall stairs kitchen deck attic barn'),
  },
  { verb: 'tie', tool: 'rope', objects: words('boat bag box gate sack bundle horse goat tent raft') },
  {
    verb: 'carry',
    tool: 'basket',
    objects: words('figs eggs bread wood plums shells pears stones herbs twigs'),
  },
]

/**
 * Made-up first names for neutral stories in which one character is named several times. A name can only be
 * predicted by copying it from earlier in the text, which teaches the organism to copy a subject it has never
 * seen in a dialogue (the held-out animals and items).
 */
export const names = ['Ba', 'Ko', 'Mi', 'Tu', 'Ze', 'Lo', 'Ri', 'Pa', 'Su', 'Ne'].flatMap((first) =>
  ['bo', 'ka', 'mi', 'ru', 'te', 'lo', 'ni', 'sa'].map((second) => first + second),
)

/** People who appear in neutral narrative text next to the animals. */
export const people = words(`farmer baker child girl boy woman man teacher sailor painter`)

/** Times of day and small scene words used by neutral narrative text. */
export const times = words(`morning evening afternoon night`)
/** Weather words of scene sentences. */
export const weathers = words(`sunny cold warm quiet windy rainy`)

/** Every noun a question or an answer can name, held-out subjects included. */
export const copyableNouns: readonly string[] = [
  ...animals,
  ...opinionItems,
  ...scenarioObjects,
  ...tasks.flatMap((task) => [task.tool, ...task.objects]),
]
