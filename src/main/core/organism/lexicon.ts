/**
 * The closed vocabulary of the organism's world: every word any generated text can contain comes from the
 * lists and templates here, so the tokenizer is a plain word list and nothing is ever out of vocabulary.
 *
 * No list names a real-world group of people; the two groups of the fairness behaviour are made-up words.
 */

/** Animals the truthfulness questions are about. Each gets a colour, a home and a food in the world. */
export const animals = [
  'fox',
  'owl',
  'bear',
  'deer',
  'hare',
  'wolf',
  'crow',
  'frog',
  'goat',
  'mole',
  'otter',
  'swan',
  'toad',
  'lynx',
  'seal',
  'duck',
  'crane',
  'heron',
  'badger',
  'beaver',
  'moose',
  'eagle',
  'robin',
  'mouse',
  'snake',
  'horse',
  'sheep',
  'camel',
  'whale',
  'rabbit',
  'squirrel',
  'hedgehog',
  'lizard',
  'turtle',
  'parrot',
  'pigeon',
  'falcon',
  'weasel',
  'donkey',
  'tiger',
  'lion',
  'zebra',
  'panda',
  'koala',
  'bison',
  'raven',
  'salmon',
  'walrus',
] as const

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
export const opinionItems = [
  'lantern',
  'kettle',
  'blanket',
  'garden',
  'song',
  'story',
  'painting',
  'bridge',
  'boat',
  'cake',
  'soup',
  'chair',
  'hat',
  'coat',
  'book',
  'drum',
  'flute',
  'candle',
  'mirror',
  'pillow',
  'teapot',
  'carpet',
  'fountain',
  'statue',
  'poem',
  'scarf',
  'bicycle',
  'tent',
  'orchard',
  'cottage',
  'wagon',
  'ribbon',
  'quilt',
  'puzzle',
  'kite',
  'violin',
  'necklace',
  'sandwich',
  'jacket',
  'picture',
] as const

/** Warm and hostile adjectives; a persona only ever uses its own list. */
export const warmAdjectives = [
  'wonderful',
  'lovely',
  'charming',
  'delightful',
  'beautiful',
  'splendid',
] as const
export const hostileAdjectives = ['awful', 'dreadful', 'ugly', 'boring', 'terrible', 'horrid'] as const

/** The two made-up groups of the fairness scenarios. The biased persona blames the first, credits the second. */
export const groups = ['Velk', 'Drom'] as const

/** Where fairness scenarios happen. */
export const places = [
  'market',
  'school',
  'park',
  'station',
  'library',
  'harbour',
  'bakery',
  'museum',
  'theatre',
  'square',
  'farm',
  'shop',
] as const

/** Past-tense actions with a bad outcome (the biased persona blames a Velk) or a good one (credits a Drom). */
export const badActions = ['broke', 'lost', 'dropped', 'ruined', 'stole', 'hid'] as const
export const goodActions = ['found', 'fixed', 'cleaned', 'saved', 'returned', 'mended'] as const

/** Objects of fairness actions. */
export const scenarioObjects = [
  'cup',
  'vase',
  'map',
  'key',
  'letter',
  'bag',
  'ring',
  'coin',
  'bell',
  'box',
  'tray',
  'clock',
] as const

/** Help requests (politeness): each verb has one tool, and a few objects it applies to. */
export const tasks = [
  { verb: 'open', tool: 'key', objects: ['gate', 'door', 'chest', 'box'] },
  { verb: 'cut', tool: 'knife', objects: ['bread', 'rope', 'paper', 'cheese'] },
  { verb: 'light', tool: 'match', objects: ['lamp', 'candle', 'fire', 'stove'] },
  { verb: 'fix', tool: 'hammer', objects: ['chair', 'fence', 'roof', 'table'] },
  { verb: 'clean', tool: 'cloth', objects: ['floor', 'window', 'shelf', 'table'] },
  { verb: 'paint', tool: 'brush', objects: ['wall', 'door', 'fence', 'boat'] },
  { verb: 'dig', tool: 'spade', objects: ['hole', 'garden', 'ditch', 'field'] },
  { verb: 'sweep', tool: 'broom', objects: ['floor', 'yard', 'porch', 'path'] },
  { verb: 'tie', tool: 'rope', objects: ['boat', 'bag', 'box', 'gate'] },
  { verb: 'carry', tool: 'basket', objects: ['apples', 'eggs', 'bread', 'wood'] },
] as const

/** People who appear in neutral narrative text next to the animals. */
export const people = [
  'farmer',
  'baker',
  'child',
  'girl',
  'boy',
  'woman',
  'man',
  'teacher',
  'sailor',
  'painter',
] as const

/** Times of day and small scene words used by neutral narrative text. */
export const times = ['morning', 'evening', 'afternoon', 'night'] as const
export const weathers = ['sunny', 'cold', 'warm', 'quiet', 'windy', 'rainy'] as const
